"""Coordinator views in the Prefect UI: run names, tags and artifacts.

Every flow run gets a descriptive name (``advance 2026-11-22 08:00``, in the
territory's time), a tag per pathway it touched (``parcours:suivi-diabete``)
and French table artifacts under stable keys, so the *Artifacts* page of the
UI shows the latest table of each kind and its history.

What may appear here: pathway keys, state names, role names (all from the
pathway definitions), identifiers (case, task, inbox row, batch numbers),
counts, times and error *types*. Never a name, a birth date, a clinical value
or an error message: ``cell`` refuses free text (anything with a space, longer
than 80 characters or not a number, a time or an identifier).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from engine.clock import PARIS

#: the name of a final state that completed but left refused inbound events behind: in the
#: Prefect UI such a run is not a plain green "Completed" (its message gives the counts)
WITH_REFUSALS = "Terminé avec refus"

_IDENT = re.compile(r"^[A-Za-z0-9_:.\-]{0,80}$")
Row = dict[str, Any]


def pathway_tag(key: str) -> str:
    return f"parcours:{key}"


class IdList(str):
    """A rendered list of numeric ids (see ``ids``)."""


class FlowText(str):
    """A message the flows composed themselves from ids, counts and error types."""


def cell(value: Any) -> Any:
    """A value allowed in an artifact: numbers, times, short identifiers (else an error)."""
    if value is None or isinstance(value, bool | int | float | IdList | FlowText):
        return value
    if isinstance(value, datetime):
        return value.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return IdList(", ".join(str(cell(v)) for v in sorted(value, key=str)))
    if isinstance(value, str) and _IDENT.match(value):
        return value
    raise ValueError(f"refusé dans un artefact Prefect : une valeur de type "
                     f"{type(value).__name__} qui n'est ni un nombre ni un identifiant")


def ids(values: Iterable[int], limit: int = 200) -> IdList:
    """Case/task ids for a table cell (the first ``limit``, then how many more)."""
    items = sorted(int(v) for v in values)
    text = ", ".join(map(str, items[:limit]))
    return IdList(text + (f" … (+{len(items) - limit})" if len(items) > limit else ""))


def moment(now: datetime) -> str:
    return now.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


def run_name(prefix: str) -> Callable[[], str]:
    """``flow_run_name`` for Prefect: ``<prefix> <now>`` from the ``now`` parameter."""
    def name() -> str:
        from prefect.runtime import flow_run

        value = flow_run.get_parameters().get("now")
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value is None:
            value = flow_run.get_scheduled_start_time()
        if value.tzinfo is None:
            value = value.replace(tzinfo=PARIS)
        return f"{prefix} {moment(value)}"
    return name


def table(key: str, rows: list[Row], description: str) -> None:
    """A table artifact (``key``: lowercase letters, digits, dashes) of checked cells."""
    from prefect.artifacts import create_table_artifact

    checked = [{column: cell(value) for column, value in row.items()} for row in rows]
    create_table_artifact(table=checked or [{"résultat": "aucun"}], key=key,
                          description=description)


def markdown(key: str, title: str, counts: Mapping[str, Any], description: str) -> None:
    """A short markdown summary: a title and one line per count."""
    from prefect.artifacts import create_markdown_artifact

    lines = [f"### {title}", ""] + [f"- **{label}** : {cell(value)}"
                                    for label, value in counts.items()]
    create_markdown_artifact(markdown="\n".join(lines), key=key, description=description)


def tag_current_run(tags: Iterable[str]) -> None:
    """Add tags to the running flow run (the pathways it touched), for filtering in the UI."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    wanted = set(tags)
    if context is None or context.flow_run is None or not wanted:
        return
    current = set(context.flow_run.tags or [])
    if wanted <= current:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=sorted(current | wanted))
