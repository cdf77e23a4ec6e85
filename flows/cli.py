"""The ``parcours`` command line.

Each sub-command imports what it needs when it runs, so that ``parcours
validate`` starts fast and never imports Prefect. Exit codes: 0 success,
1 invalid input (reported as ``file:line:col: message``), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parcours", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check pathway files, report every error")
    p.add_argument("paths", nargs="+", metavar="PATH", help="pathway files or folders")
    p.add_argument("--quiet", "-q", action="store_true", help="print errors only")
    p.set_defaults(handler="flows.commands.authoring:validate")

    p = sub.add_parser("schema", help="print the JSON Schema of the pathway language")
    p.set_defaults(handler="flows.commands.authoring:schema")

    p = sub.add_parser("graph", help="draw a pathway as Mermaid or Graphviz DOT")
    p.add_argument("pathway", metavar="PATHWAY")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.set_defaults(handler="flows.commands.authoring:graph")

    p = sub.add_parser("run", help="replay a timeline of events in memory")
    p.add_argument("pathway", metavar="PATHWAY")
    p.add_argument("--timeline", required=True, metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler="flows.commands.authoring:run")

    p = sub.add_parser("demo", help="the main job: validate, draw and replay the bundled "
                                    "pathways")
    p.add_argument("--out", default="parcours-out", help="folder for diagrams (default: "
                                                          "%(default)s)")
    p.set_defaults(handler="flows.commands.demo:demo")
    return parser


def _resolve(spec: str) -> Handler:
    import importlib

    module, _, name = spec.partition(":")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _resolve(args.handler)(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
