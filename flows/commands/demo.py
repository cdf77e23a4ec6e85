"""The main job for now: validate every bundled pathway, draw it, replay the examples."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.commands.authoring import pathway_files

ROOT = Path(__file__).resolve().parents[2]


def demo(args: argparse.Namespace) -> int:
    from engine.pathway.diagram import to_mermaid
    from engine.pathway.loader import check_file, load_file
    from engine.timeline import read_timeline, replay
    from flows.commands.authoring import print_step

    folder = ROOT / "pathways"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = list(pathway_files([str(folder)]))
    bad = 0
    for number, file in enumerate(files, start=1):
        _, problems = check_file(file)
        status = "ok" if not problems else f"{len(problems)} error(s)"
        print(f"[{number}/{len(files)}] validate {Path(file).relative_to(ROOT)}: {status}")
        for problem in problems:
            print(f"    {problem}")
        if problems:
            bad += 1
            continue
        pathway = load_file(file)
        target = out / f"{pathway.key}.mmd"
        target.write_text(to_mermaid(pathway), encoding="utf-8")
        print(f"        diagram → {target}")
        timeline = Path(file).with_suffix("").with_suffix(".timeline.yaml")
        if timeline.exists():
            print(f"        replay {timeline.relative_to(ROOT)}")
            data, doc = read_timeline(str(timeline))
            for result in replay(pathway, data, doc):
                print_step(result, pathway)
    print(f"{len(files) - bad} of {len(files)} pathway(s) valid; diagrams in {out}/")
    return 1 if bad else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="the main job: validate, draw and replay the bundled "
                                    "pathways")
    p.add_argument("--out", default="parcours-out", help="folder for diagrams (default: "
                                                          "%(default)s)")
    p.set_defaults(handler="flows.commands.demo:demo")


if __name__ == "__main__":
    sys.exit(demo(argparse.Namespace(out="parcours-out")))
