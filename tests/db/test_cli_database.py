"""Where the command line finds its database: a plain file path is SQLite, a malformed URL
is one French line, and a command that reads (or changes) data never creates an empty
database silently; only ``parcours db upgrade`` creates one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from tests.db.test_cli_listings import french_only
from tests.db.world import EXAMPLE

#: commands that need an existing database (reads, and writes of data)
NEEDS_A_DATABASE = [
    ["cases"], ["tasks"], ["case", "show", "1"], ["task", "show", "1"],
    ["patients", "search", "durand"], ["professionals", "list"],
    ["careteam", "show", "1"], ["pathways", "list"], ["advance"], ["inbox", "list"],
    ["outbox"], ["notify"], ["enroll", "--patient", "1", "--pathway", "x"],
    ["observe", "--patient", "1", "--code", "hba1c", "--value", "7"],
    ["pathways", "publish", str(EXAMPLE)], ["web", "--demo-links", "--links-only"],
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.rglob("*")}


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_a_plain_file_path_is_a_sqlite_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        absolute: bool) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parcours-out").mkdir()
    path = tmp_path / "parcours-out" / "demo.db" if absolute else Path("parcours-out/demo.db")
    monkeypatch.setenv("PARCOURS_DATABASE_URL", str(path))
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and f"sqlite:///{tmp_path / 'parcours-out' / 'demo.db'}" in out
    assert run(capsys, "pathways", "publish", str(EXAMPLE), "--now", "2026-01-05T09:00")[0] == 0
    code, out, _ = run(capsys, "pathways", "list", "--json")
    assert code == 0 and json.loads(out)[0]["key"] == "exemple-suivi"
    code, out, _ = run(capsys, "cases")
    assert code == 0 and out == "aucun dossier\n"
    assert not (tmp_path / "parcours.db").exists()


@pytest.mark.parametrize("url", ["postgres:/parcours", "sqlite:parcours.db", "foo://bar/x",
                                 "postgresql+psycopg://u@h:port/x", " ", "mysql://u@h/x"],
                         ids=["one-slash", "no-slashes", "unknown-scheme", "bad-port", "blank",
                              "unsupported"])
def test_a_malformed_url_is_one_french_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        url: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARCOURS_DATABASE_URL", url)
    for args in (["cases"], ["db", "upgrade"], ["web", "--demo-links", "--links-only"]):
        code, out, err = run(capsys, *args)
        assert code == 1 and out == ""
        assert err.startswith("erreur : ") and err.count("\n") == 1, err
        assert "base de données" in err and "attendu" in err
        assert "u@h" not in err  # the address (it may hold a password) is not repeated
        french_only(err)
    assert _files(tmp_path) == set()


@pytest.mark.parametrize("args", NEEDS_A_DATABASE, ids=lambda a: " ".join(a[:2]))
def test_no_command_creates_a_missing_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARCOURS_DATABASE_URL", "parcours-out/demo.db")
    (tmp_path / "parcours-out").mkdir()
    code, out, err = run(capsys, *args)
    assert code == 1 and out == ""
    assert f"aucune base de données à {tmp_path / 'parcours-out' / 'demo.db'}" in err
    assert "parcours db upgrade" in err and "parcours demo" in err
    french_only(err)
    assert _files(tmp_path) == {"parcours-out"}  # no demo.db, -wal or -shm either


def test_the_default_database_is_not_created_either(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARCOURS_DATABASE_URL", raising=False)
    code, _, err = run(capsys, "tasks", "--overdue")
    assert code == 1 and f"aucune base de données à {tmp_path / 'parcours.db'}" in err
    assert _files(tmp_path) == set()


def test_a_database_without_schema_says_how_to_create_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    monkeypatch.setenv("PARCOURS_DATABASE_URL", str(tmp_path / "empty.db"))
    code, out, err = run(capsys, "cases")
    assert code == 1 and out == ""
    assert err == ("erreur : la base de données n'a pas le schéma attendu : créez-le ou "
                   "mettez-le à jour avec `parcours db upgrade`\n")


def test_postgresql_unreachable_or_absent_is_one_french_line(
        pg_database: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    absent = pg_database.rsplit("/", 1)[0] + "/parcours_base_absente"
    unreachable = "postgresql+psycopg://root@127.0.0.1:1/parcours"
    for url in (absent, unreachable):
        monkeypatch.setenv("PARCOURS_DATABASE_URL", url)
        for args in (["cases"], ["tasks"], ["patients", "search", "durand"]):
            code, out, err = run(capsys, *args)
            assert code == 1 and out == ""
            assert err.startswith("erreur : la base de données est injoignable") and \
                err.count("\n") == 1, err
            french_only(err)
