"""The ``parcours`` command line.

Coordinators' commands speak French, argparse's own words included (``flows.argparse_fr``);
the developer commands (``DEVELOPER``: pathway authoring and testing) speak English,
help and errors alike.

Each sub-command imports what it needs when it runs, so that ``parcours
validate`` starts fast and never imports Prefect. Exit codes: 0 success,
1 invalid input (reported as ``file:line:col: message``), 2 usage error,
3 an unexpected error.

This is the command line's error boundary: an error that is ours prints its
message; any other prints one line naming its type (never its arguments, which
may hold patient data) and the full traceback only with ``--debug`` (or
``PARCOURS_DEBUG=1``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from flows.argparse_fr import FrenchParser, french

Handler = Callable[[argparse.Namespace], int]


#: Modules that add sub-commands (each has ``register(subparsers)``), in help order.
#: Their top-level imports stay light: handlers import what they need when they run.
GROUPS = (
    "flows.commands.authoring",
    "flows.commands.testing",
    "flows.commands.records",
    "flows.commands.territory",
    "flows.commands.migration",
    "flows.commands.notify",
    "flows.commands.orchestration",
    "flows.commands.demo",
    "flows.commands.interop",
    "flows.commands.web",
)


#: commands for pathway authors and developers: English, consistently
DEVELOPER = frozenset({"validate", "schema", "graph", "test", "simulate", "run"})


def _parser(english: bool = False) -> argparse.ArgumentParser:
    parser_class = argparse.ArgumentParser if english else FrenchParser
    parser = parser_class(
        prog="parcours", description="Parcours : les parcours de soins des patients de la "
        "CPTS (commandes des auteurs de parcours, en anglais : " + ", ".join(sorted(DEVELOPER))
        + ")")
    parser.add_argument("--debug", action="store_true",
                        help="afficher la trace complète d'une erreur inattendue")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    for name in GROUPS:
        if importlib.util.find_spec(name) is not None:  # groups land issue by issue
            importlib.import_module(name).register(sub)
    return parser


def _resolve(spec: str) -> Handler:
    module, _, name = spec.partition(":")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def is_developer(argv: Sequence[str]) -> bool:
    """Whether the command line names a developer command (its first word)."""
    command = next((word for word in argv if not word.startswith("-")), None)
    return command in DEVELOPER


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    english = is_developer(words)
    for n, arg in enumerate(words, 1):
        if "\x00" in arg:  # a real command line cannot hold one; a script's call can
            print(f"argument {n}: NUL character (byte 0) not allowed" if english else
                  f"erreur : argument n° {n} : caractère nul (octet 0) interdit",
                  file=sys.stderr)
            return 2
    with french(not english):
        args = _parser(english).parse_args(words)
    try:
        if getattr(args, "json", False):  # standard output: the JSON document only
            from flows.commands.common import json_only

            with json_only(True):
                return _resolve(args.handler)(args)
        return _resolve(args.handler)(args)
    except KeyboardInterrupt:
        print("interrupted" if english else "interrompu", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        return _unexpected(exc, args.debug or os.environ.get("PARCOURS_DEBUG") == "1",
                           english)


def _unexpected(exc: Exception, debug: bool, english: bool = False) -> int:
    from engine.exceptions import ParcoursError

    if isinstance(exc, ParcoursError):
        print(f"error: {exc}" if english else f"erreur : {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, OSError) and exc.filename is not None and not debug:
        from engine.exceptions import file_problem

        print(f"erreur : {file_problem(exc)}", file=sys.stderr)
        return 1
    if _refused_by_database(exc) and not debug:
        print("erreur : valeur refusée par la base de données (texte avec un caractère "
              "interdit, nombre ou date hors des limites) ; rien n'a été écrit",
              file=sys.stderr)
        return 1
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    elif english:
        print(f"unexpected error ({type(exc).__name__}); nothing was committed for the "
              "operation under way. Run again with --debug for the details.", file=sys.stderr)
    else:  # no class name: coordinators read this line; --debug gives the developer's view
        print("erreur inattendue ; rien n'a été validé pour l'opération en cours. Relancez "
              "avec --debug pour le détail.", file=sys.stderr)
    return 3


def _refused_by_database(exc: Exception) -> bool:
    """A value the database or its driver refuses (its statement, parameters and the
    value itself are never printed: they can hold patient data)."""
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import DataError, StatementError

    return isinstance(exc, DataError) or (
        type(exc) is StatementError and isinstance(exc.orig, OverflowError | ValueError))


if __name__ == "__main__":
    sys.exit(main())
