"""CSV downloads of the coordinator's lists, as French spreadsheets expect them.

UTF-8 with a byte-order mark (Excel then reads the accents right), ``;`` as separator
(the comma is the French decimal mark), CRLF line ends, French column headers, dates as
``JJ/MM/AAAA`` and decimals with a comma. A cell that a spreadsheet would take for a
formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed
with an apostrophe (OWASP "CSV injection"): a patient named ``=HYPERLINK(…)`` stays text.

Every list page offers its CSV through one call::

    return csv_response("taches-en-retard", ["Tâche", "Échéance"],
                        [(t.title, t.due_at) for t in tasks], zone=ctx.zone)

The file name carries no patient data (the name of the list and the date only).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from starlette.responses import Response

BOM = "\ufeff"
SEPARATOR = ";"
#: First characters that make a spreadsheet evaluate a cell (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PARIS = ZoneInfo("Europe/Paris")
_SAFE_NAME = re.compile(r"[^a-z0-9-]+")

Cell = str | int | float | Decimal | date | datetime | bool | None


def cell_text(value: Cell, zone: ZoneInfo = PARIS) -> str:
    """One value as the French spreadsheet should read it, formula starts neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        text = f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
        return text.replace(".", ",")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[Cell]],
             zone: ZoneInfo = PARIS) -> str:
    """The whole file: BOM, header line, one line per row, ``;``-separated, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATOR, lineterminator="\r\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow([cell_text(h, zone) for h in headers])
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"CSV row has {len(row)} cells, headers have {len(headers)}")
        writer.writerow([cell_text(v, zone) for v in row])
    return BOM + out.getvalue()


def csv_response(name: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]], *,
                 zone: ZoneInfo = PARIS, day: date | None = None) -> Response:
    """A download response: ``<name>[-AAAA-MM-JJ].csv``, ``text/csv; charset=utf-8``."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = _SAFE_NAME.sub("-", plain.lower()).strip("-") or "export"
    if day is not None:
        stem += f"-{day.isoformat()}"
    body = csv_text(headers, rows, zone).encode("utf-8")
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{stem}.csv"'})


__all__ = ["BOM", "FORMULA_STARTS", "SEPARATOR", "cell_text", "csv_response", "csv_text"]
