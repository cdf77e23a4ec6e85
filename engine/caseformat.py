"""Versions of the stored case format, and one upgrade function per change.

A case is stored as plain JSON (``Case.to_dict``; in the database the same data is
spread over the ``pathway_case`` columns, the ``timer`` rows and the ``memory``
column, with the format number in ``pathway_case.format``). Each time that shape
changes, ``CURRENT`` goes up by one and an upgrade function ``FROM → FROM + 1`` is
added to ``UPGRADES``; reading a case applies the missing steps in order, so a case
written by any older release is read by this one (the model is SpiffWorkflow's
serializer migrations: one small, tested function per version step, never edited
once released). Upgrades are pure: data in, new data out, the input left alone.

Formats:

1. the first release (no ``format`` key): ``active``, ``facts``, ``timers`` (``name``,
   ``state``, ``fire_at``, ``every``), ``tasks``, ``seq``, ``closed_at``.
2. timers remember the start of their schedule (``anchor``): recurring timers fire at
   anchor + k × period and no longer drift to the 28th (commit 018a516).
3. the case keeps a bounded observation ``history`` (guards' ``history.KEY``) and the
   hospital ``stays`` it has seen; dates carry their time ``zone`` (commits 15ee661,
   f73a6bf).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

CURRENT = 3


def _1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 → 2: every timer gets an ``anchor``.

    A format-1 recurring timer had no anchor: the runtime of that release re-armed it
    from its last firing. Anchoring it on its next firing keeps exactly that schedule
    (no firing moves) and from then on it does not drift. A one-shot (``after``) timer
    gets ``None``: the runtime then anchors it on its firing time, as format 1 did.
    """
    timers = [{**t, "anchor": t.get("anchor") or (t["fire_at"] if t.get("every") else None)}
              for t in data.get("timers", ())]
    return {**data, "timers": timers}


def _2_to_3(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 → 3: an empty observation ``history`` and no hospital ``stays``.

    Releases before format 3 kept neither, so there is nothing to carry over: a
    ``history.KEY`` guard sees the observations recorded from the upgrade on (the
    latest value of each observation is still read from the patient's record as
    ``obs.KEY``), and the first admission seen opens a stay.
    """
    return {**data, "history": dict(data.get("history") or {}),
            "stays": dict(data.get("stays") or {})}


#: format N → the function that turns format N into N + 1
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _1_to_2, 2: _2_to_3}


def format_of(data: Mapping[str, Any]) -> int:
    """The format a stored case was written in (no ``format`` key: format 1)."""
    value = data.get("format", 1)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= CURRENT:
        raise ValueError(f"stored case format {value!r} is not one this release reads "
                         f"(1 to {CURRENT})")
    return value


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` in the current format, every missing step applied in order."""
    out = dict(data)
    for step in range(format_of(data), CURRENT):
        out = UPGRADES[step](out)
    out["format"] = CURRENT
    return out
