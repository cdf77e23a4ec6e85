"""The command line is an error boundary: no traceback unless asked, no argument echoed."""

from __future__ import annotations

import argparse
from pathlib import Path

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


def test_a_file_that_cannot_be_opened_is_named_in_french(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv("PARCOURS_DATABASE_URL", str(tmp_path / "parcours.db"))
    assert cli.main(["db", "upgrade"]) == 0  # an import needs a database before its file
    assert cli.main(["validate", "x" * 300]) == 1  # developer command: English, located
    captured = capsys.readouterr()
    assert "1:1: cannot read file: File name too long" in captured.out + captured.err
    assert cli.main(["patients", "import", "y" * 300]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nom trop long" in err and "y" * 100 not in err


def test_an_os_error_on_a_named_file_is_one_french_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    error = PermissionError(13, "Permission denied", "/srv/export/patients.csv")
    monkeypatch.setattr(cli, "_resolve", lambda spec: _failing(error))
    assert cli.main(["validate", "x.yaml"]) == 1
    assert capsys.readouterr().err == ("erreur : fichier '/srv/export/patients.csv' : "
                                       "accès refusé\n")


def test_a_value_the_database_refuses_is_not_printed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy.exc import DataError

    error = DataError("INSERT INTO patient (family_name) VALUES (%s)", ("Durand\x00",),
                      ValueError("NUL"))
    monkeypatch.setattr(cli, "_resolve", lambda spec: _failing(error))
    assert cli.main(["validate", "x.yaml"]) == 1
    err = capsys.readouterr().err
    assert "rien n'a été écrit" in err and "Durand" not in err and "INSERT" not in err


def test_a_nul_byte_in_an_argument_is_refused_before_anything_runs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_resolve", lambda spec: pytest.fail("must not run"))
    assert cli.main(["observe", "--patient", "a\x00b", "--code", "x", "--value", "1"]) == 2
    assert "argument n° 3 : caractère nul" in capsys.readouterr().err
