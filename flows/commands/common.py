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
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.clock import PARIS, SystemClock, ensure_aware
from engine.exceptions import ParcoursError
from engine.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from engine.store.service import CaseService


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


def engine_of(settings: Settings) -> Engine:
    from engine.store.db import make_engine

    return make_engine(settings.database_url, echo=settings.echo_sql)


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
            print(f"erreur de base de données : {exc.orig}\n(la base est-elle à jour ? "
                  "lancez `parcours db upgrade`)", file=sys.stderr)
            return 1
    run.__name__ = handler.__name__
    return run


def dump(data: Any) -> None:
    from engine.case import jsonable

    json.dump(jsonable(data), sys.stdout, indent=2, ensure_ascii=False)
    print()
