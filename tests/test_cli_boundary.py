"""The command line is an error boundary: no traceback unless asked, no argument echoed."""

from __future__ import annotations

import argparse

import pytest

import flows.cli as cli
from engine.exceptions import TimelineError


def _failing(exc: Exception) -> cli.Handler:
    def handler(args: argparse.Namespace) -> int:
        raise exc
    return handler


def test_an_unexpected_error_is_one_line_without_its_arguments(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_resolve", lambda spec: _failing(RuntimeError("Durand 1950")))
    assert cli.main(["validate", "x.yaml"]) == 3
    err = capsys.readouterr().err
    assert "RuntimeError" in err and "--debug" in err
    assert "Traceback" not in err and "Durand" not in err


def test_debug_prints_the_traceback(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_resolve", lambda spec: _failing(RuntimeError("boom")))
    assert cli.main(["--debug", "validate", "x.yaml"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_our_errors_print_their_message(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_resolve", lambda spec: _failing(TimelineError("étape")))
    assert cli.main(["cases"]) == 1
    assert capsys.readouterr().err == "erreur : étape\n"
    # developer commands speak English
    monkeypatch.setattr(cli, "_resolve", lambda spec: _failing(TimelineError("bad step")))
    assert cli.main(["validate", "x.yaml"]) == 1
    assert capsys.readouterr().err == "error: bad step\n"
