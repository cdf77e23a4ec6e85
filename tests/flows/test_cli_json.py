"""Machine-readable output is clean: with ``--json`` standard output holds only the JSON
document, for EVERY command that has ``--json`` (the parser tree is walked, so a new one
must be added here); and the command line's error boundary covers every sub-command.

Here, not in ``tests/db``, because ``parcours flow … --json`` runs a Prefect flow (this
folder's harness)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

import flows.cli as cli
from flows.cli import _parser, main
from tests.db.world import EXAMPLE, PATIENTS, PROFESSIONALS
from tests.flows.helpers import ROOT
from tests.test_cli_french import commands

MARIE = "195031234567890"
START = "2026-01-05T09:00"
LATER = "2026-04-15T08:00"

#: one typical invocation (without --json) of every command that has --json
JSON_COMMANDS: dict[str, list[str]] = {
    "tasks": ["tasks", "--now", LATER],
    "cases": ["cases", "--now", LATER],
    "patients search": ["patients", "search", "durand"],
    "professionals list": ["professionals", "list", "--now", LATER],
    "careteam show": ["careteam", "show", MARIE, "--now", LATER],
    "task show": ["task", "show", "1", "--now", LATER],
    "case show": ["case", "show", "1", "--now", LATER],
    "pathways list": ["pathways", "list"],
    "pathways show": ["pathways", "show", "exemple-suivi"],
    "pathways diff": ["pathways", "diff", "exemple-suivi@1", str(EXAMPLE)],
    "settings list": ["settings", "list", "exemple-suivi"],
    "advance": ["advance", "--now", LATER],
    "inbox list": ["inbox", "list"],
    "outbox": ["outbox"],
    "notify": ["notify", "--now", LATER],
    "notify preview": ["notify", "preview", "task_assigned", "--task", "1", "--now", LATER],
    "notify digest": ["notify", "digest", "--now", LATER],
    "flow": ["flow", "advance", "--now", "2026-08-01T08:00"],
    "migrate plan": ["migrate", "plan", "exemple-suivi", "--to", "1", "--now", LATER],
    "migrate apply": ["migrate", "apply", "exemple-suivi", "--to", "1", "--now", LATER],
    "migrate runs": ["migrate", "runs"],
    "fhir clients list": ["fhir", "clients", "list"],
    "run": ["run", str(EXAMPLE), "--timeline",
            str(EXAMPLE.with_name("exemple-suivi.timeline.yaml"))],
}


def has_json(parser: argparse.ArgumentParser) -> bool:
    return any("--json" in a.option_strings for a in parser._actions)


def test_every_command_with_json_is_checked() -> None:
    found = {" ".join(words) for words, parser in commands(_parser()) if has_json(parser)}
    assert found == set(JSON_COMMANDS)


@pytest.fixture
def small_territory(app_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> str:
    """The example pathway, four professionals, two enrolled patients (one past its first
    task: a timer falls due before ``LATER``), a refused inbound event; the console channel
    prints messages on standard output (no folder), as it does by default."""
    monkeypatch.delenv("PARCOURS_NOTIFY_CONSOLE_DIR", raising=False)
    (tmp_path / "pros.csv").write_text(PROFESSIONALS, encoding="utf-8")
    (tmp_path / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    steps = [["pathways", "publish", str(EXAMPLE), "--now", START],
             ["professionals", "import", str(tmp_path / "pros.csv")],
             ["patients", "import", str(tmp_path / "patients.csv"), "--now", START],
             ["careteam", "set", "--patient", MARIE, "--role", "medecin_traitant",
              "--professional", "10000000001", "--from", "2025-01-01"],
             ["enroll", "--patient", MARIE, "--pathway", "exemple-suivi", "--now", START],
             ["enroll", "--patient", "P-002", "--pathway", "exemple-suivi", "--now", START],
             ["task", "complete", "1", "--by", "10000000001", "--now", "2026-01-10T10:00"],
             ["inbox", "observe", "--patient", MARIE, "--code", "hba1c", "--value", "abc",
              "--now", START]]
    for args in steps:
        assert main(args) == 0, (args, capsys.readouterr())
    capsys.readouterr()
    return app_db


def test_json_output_is_only_the_document(small_territory: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for name, args in JSON_COMMANDS.items():
        code = main([*args, "--json"])
        out, err = capsys.readouterr()
        assert code in (0, 1), (name, err)
        assert out.strip(), f"{name}: nothing on standard output ({err})"
        json.loads(out)  # the whole of standard output is one JSON document
        assert "Traceback" not in err
        if name == "notify":  # the console channel printed messages: on standard error
            assert json.loads(out)["claimed"] >= 1 and err.strip()
        if name == "advance":
            assert json.loads(out)["cases"] >= 1


def test_advance_json_pipes_into_json_tool(small_territory: str) -> None:
    """``parcours advance --json | python -m json.tool`` (a real pipe, a real process)."""
    command = (f"{sys.executable} -m flows.cli advance --now {LATER} --json | "
               f"{sys.executable} -m json.tool")
    result = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cases"] >= 1
    assert "dossier(s) avancé(s)" in result.stderr


def _argv(words: tuple[str, ...], parser: argparse.ArgumentParser) -> list[str]:
    """The words of a command and a value for each of its required arguments."""
    argv = list(words)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        value = str(next(iter(action.choices))) if action.choices else "1"
        if not action.option_strings:
            argv.append(value)
        elif action.required:
            argv += [action.option_strings[0], value]
    return argv


LEAVES = [(words, parser) for words, parser in commands(_parser())
          if words and parser.get_default("handler")]


@pytest.mark.parametrize(("words", "parser"), LEAVES, ids=[" ".join(w) for w, _ in LEAVES])
def test_the_boundary_covers_every_command(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str],
                                           words: tuple[str, ...],
                                           parser: argparse.ArgumentParser) -> None:
    """An exception that is not ours, raised by any command: one line, exit code 3, nothing
    of its message (it may hold patient data); its handler exists."""
    handler = parser.get_default("handler")
    assert callable(cli._resolve(handler)), handler

    def failing(args: argparse.Namespace) -> int:
        raise RuntimeError("Durand Marie 12/03/1950")

    monkeypatch.setattr(cli, "_resolve", lambda spec: failing)
    assert main(_argv(words, parser)) == 3
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Durand" not in out + err and "Traceback" not in err
    assert ("unexpected error" if words[0] in cli.DEVELOPER else "erreur inattendue") in err


@pytest.mark.parametrize("args", [["cases"], ["tasks"], ["patients", "search", "durand"],
                                  ["case", "show", "1"], ["careteam", "show", MARIE]])
def test_a_failure_inside_a_real_command_is_one_line(
        app_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str]) -> None:
    """The failure injected in the store, under the real handler; --debug shows the trace."""
    import engine.store.db

    def broken(engine: object) -> None:
        raise KeyError("Durand Marie")

    monkeypatch.setattr(engine.store.db, "transaction", broken)
    assert main(args) == 3
    err = capsys.readouterr().err
    assert err.startswith("erreur inattendue") and err.count("\n") == 1
    assert "Durand" not in err and "KeyError" not in err
    assert main(["--debug", *args]) == 3
    assert "Traceback" in capsys.readouterr().err
