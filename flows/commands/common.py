"""Helpers shared by the command groups: parsing dates and ``key=value`` pairs, ``--now`` and
``--json`` options, the database engine and case service from settings, and ``guarded``,
which turns a refused input into a French message and exit code 1.

Human output is in French (coordinators read it); ``--json`` gives data.
Every time-dependent command takes ``--now`` (default: the current time).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from engine.clock import PARIS, SystemClock, ensure_aware
from engine.exceptions import ParcoursError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from engine.settings import Settings
    from engine.store.service import CaseService
else:
    def Settings(**values: Any) -> Any:
        """``engine.settings.Settings(**values)``, imported when first called: the command
        modules import it from here so that ``parcours --help`` and ``parcours validate``
        never load pydantic-settings (0.1–0.2 s) for commands they do not run."""
        from engine.settings import Settings as settings_class

        return settings_class(**values)


#: the last year a date given on the command line may fall in: beyond, date arithmetic (a
#: deadline, a timer five years later) would leave Python's calendar. Dates too early for
#: what they date are refused by the store, with the reason (before 1900, before birth).
LAST_YEAR = 2199


def moment(text: str) -> datetime:
    try:
        value = ensure_aware(datetime.fromisoformat(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"date/heure invalide {text[:40]!r} (format AAAA-MM-JJ ou AAAA-MM-JJTHH:MM)") from exc
    _not_too_late(value)
    return value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number between ``low`` and ``high``, else a French error."""
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"nombre entier entre {low} et {high} attendu")
        return value
    parse.__name__ = "entier"
    return parse


def day(text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"date invalide {text[:40]!r} (format "
                                         "AAAA-MM-JJ)") from exc
    _not_too_late(value)
    return value


def _not_too_late(value: date) -> None:
    if value.year > LAST_YEAR:
        raise argparse.ArgumentTypeError(f"date après {LAST_YEAR} : impossible")


def pairs(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParcoursError(f"{item!r} : attendu clé=valeur")
        out[key] = _scalar(value)
    return out


def _scalar(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "oui"):
        return True
    if lowered in ("false", "non"):
        return False
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def fmt(value: datetime | None) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if value else "—"


def add_now(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=moment, default=None,
                        help="heure courante simulée (défaut : maintenant)")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="sortie JSON")


def now_of(args: argparse.Namespace) -> datetime:
    return args.now or SystemClock().now()


def engine_of(settings: Settings, *, create: bool = False, pre_ping: bool = True) -> Engine:
    """The engine of ``settings``' database. Only ``create=True`` (``parcours db upgrade``)
    may create a SQLite file: every other command refuses a database that is not there.
    ``pre_ping``: see ``make_engine``."""
    from engine.store.db import make_engine

    return make_engine(settings.database_url, echo=settings.echo_sql, create=create,
                       pre_ping=pre_ping)


def service(args: argparse.Namespace) -> CaseService:
    from engine.store.service import CaseService

    settings = Settings()
    return CaseService(engine_of(settings), settings)


def guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn our errors into a message and exit code 1 (never a traceback)."""
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return handler(args)
        except ParcoursError as exc:
            print(f"erreur : {exc}", file=sys.stderr)
            return 1
        except (OperationalError, ProgrammingError) as exc:
            print(f"erreur : {database_problem(exc)}", file=sys.stderr)
            return 1
    run.__name__ = handler.__name__
    return run


def database_problem(exc: Exception) -> str:
    """A French line for a database error (never its statement nor its parameters)."""
    text = str(getattr(exc, "orig", exc) or "").lower()
    if "no such table" in text or "undefinedtable" in type(getattr(exc, "orig", exc)).__name__ \
            .lower() or ("relation" in text and "does not exist" in text):
        return ("la base de données n'a pas le schéma attendu : créez-le ou mettez-le à jour "
                "avec `parcours db upgrade`")
    if "locked" in text or "busy" in text:
        return "la base de données est occupée par un autre processus : réessayez"
    return ("la base de données est injoignable ou a refusé l'opération : vérifiez "
            "PARCOURS_DATABASE_URL, que le serveur répond et que le schéma est à jour "
            "(`parcours db upgrade`) ; rien n'a été enregistré")


_JSON_OUT: list[TextIO] = []


@contextmanager
def json_only(enabled: bool) -> Iterator[None]:
    """With ``--json``, standard output holds only the JSON document: whatever else a command
    (or a library under it: a console channel, a progress line) prints goes to standard
    error; ``dump`` and ``json_stream`` write to the real standard output."""
    if not enabled:
        yield
        return
    _JSON_OUT.append(sys.stdout)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _JSON_OUT.pop()


def json_stream() -> TextIO:
    """Where a JSON document goes: standard output, even inside ``json_only``."""
    return _JSON_OUT[-1] if _JSON_OUT else sys.stdout


def dump(data: Any) -> None:
    from engine.case import jsonable

    stream = json_stream()
    json.dump(jsonable(data), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
    stream.flush()
