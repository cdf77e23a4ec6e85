"""The coordinators' CLI end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from tests.db.world import EXAMPLE, PATIENTS, PROFESSIONALS

MARIE = "195031234567890"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def territory(cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "pros.csv").write_text(PROFESSIONALS, encoding="utf-8")
    (tmp_path / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    assert cli(capsys, "db", "upgrade")[0] == 0
    assert cli(capsys, "pathways", "publish", str(EXAMPLE), "--now", "2026-01-05T09:00")[0] == 0
    assert cli(capsys, "professionals", "import", str(tmp_path / "pros.csv"))[0] == 0
    assert cli(capsys, "patients", "import", str(tmp_path / "patients.csv"),
               "--now", "2026-01-05T09:00")[0] == 0
    for role, rpps in (("medecin_traitant", "10000000001"), ("infirmier", "10000000002"),
                       ("pedicure_podologue", "10000000003")):
        code, out, _ = cli(capsys, "careteam", "set", "--patient", MARIE, "--role", role,
                           "--professional", rpps, "--from", "2025-01-01")
        assert code == 0, out
    return tmp_path


def test_a_year_of_one_case(territory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "enroll", "--patient", MARIE, "--pathway", "exemple-suivi",
                       "--now", "2026-01-05T09:00")
    assert code == 0 and "dossier(s) 1" in out
    code, out, _ = cli(capsys, "tasks", "--case", "1", "--json", "--now", "2026-01-06")
    (task,) = json.loads(out)
    assert task["key"] == "bilan_initial" and task["assignee_id"] == 1
    assert cli(capsys, "task", "complete", str(task["id"]), "--by", "10000000001",
               "--now", "2026-01-10T10:00")[0] == 0
    code, out, _ = cli(capsys, "tasks", "--role", "infirmier", "--status", "open", "--json",
                       "--now", "2026-01-10T10:00")
    (foot,) = json.loads(out)
    assert cli(capsys, "task", "complete", str(foot["id"]), "--result", "grade=2",
               "--now", "2026-01-20T10:00")[0] == 0
    code, out, _ = cli(capsys, "advance", "--now", "2026-04-15T08:00")
    assert code == 0 and "1 dossier(s) avancé(s)" in out
    assert cli(capsys, "observe", "--patient", MARIE, "--code", "4548-4", "--value", "7,8",
               "--unit", "%", "--at", "2026-04-20T08:00", "--now", "2026-04-20T09:00")[0] == 0
    code, out, _ = cli(capsys, "tasks", "--overdue", "--now", "2026-12-01", "--json")
    assert {t["key"] for t in json.loads(out)} == {"revoir_traitement"}
    code, out, err = cli(capsys, "advance", "--now", "2027-01-10T08:00", "--json")
    assert code == 0 and json.loads(out)["cases"] == 1      # stdout: the JSON document only
    assert "dossier(s) avancé(s)…" in err                   # progress: on standard error
    code, out, _ = cli(capsys, "case", "show", "1", "--json", "--now", "2027-01-10T08:00")
    view = json.loads(out)
    kinds = [h["kind"] for h in view["history"]]
    for kind in ("enrolment", "task_created", "task_completed", "transition", "timer_fired",
                 "observation", "fact_set"):
        assert kind in kinds, kind
    assert view["states"] == ["suivi.glycemie.revue", "suivi.pieds.prevention"]
    assert view["facts"]["failures"] == 1 and view["facts"]["foot_grade"] == 2
    assert next(h["actor_id"] for h in view["history"] if h["kind"] == "task_completed") == 1
    assert any(t["name"] == "podologie" for t in view["timers"])
    code, out, _ = cli(capsys, "case", "show", "1", "--now", "2027-01-10T08:00")
    assert "Dossier 1" in out and "historique" in out
    code, out, _ = cli(capsys, "pathways", "list", "--json")
    assert json.loads(out)[0]["open_cases"] == 1
    assert cli(capsys, "case", "close", "1", "--reason", "déménagement",
               "--now", "2027-02-01")[0] == 0
    code, _, err = cli(capsys, "event", "sortie_parcours", "--case", "1", "--data",
                       "motif=retrait", "--now", "2027-02-02")
    assert code == 1 and "clos" in err


@pytest.mark.parametrize(("args", "message"), [
    (["observe", "--patient", MARIE, "--code", "hba1c", "--value", "abc"], "n'est pas un nombre"),
    (["observe", "--patient", MARIE, "--code", "hba1c", "--value", "45"], "impossible"),
    (["observe", "--patient", MARIE, "--code", "9999-9", "--value", "5"], "code d'observation"),
    (["observe", "--patient", "inconnu", "--code", "hba1c", "--value", "5"], "patient inconnu"),
    (["observe", "--patient", MARIE, "--code", "hba1c", "--value", "6", "--at", "2030-01-01"],
     "futur"),
    (["task", "complete", "999"], "tâche inconnu"),
    (["case", "show", "42"], "dossier inconnu"),
    (["enroll", "--patient", MARIE, "--pathway", "nope"], "parcours inconnu"),
    (["careteam", "set", "--patient", MARIE, "--role", "plombier", "--professional",
      "10000000001"], "rôle 'plombier' inconnu"),
])
def test_bad_input_is_refused(territory: Path, capsys: pytest.CaptureFixture[str],
                              args: list[str], message: str) -> None:
    code, _, err = cli(capsys, *args, "--now", "2026-02-01T09:00")
    assert code == 1
    assert message in err


def test_bad_import_files_import_nothing(territory: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = territory / "bad.csv"
    bad.write_text("ins,local_id,family_name,given_names,birth_date,sex,commune,conditions\n"
                   ",P-100,Dupont,Léa,1950-02-30,F,25056,\n"
                   ",P-101,Dupont,Léo,1950-02-01,X,2505,\n"
                   ",P-102,Dupont,Lou,1951-02-01,M,25056,E11\n"
                   ",P-103,Valide,Val,1951-02-01,M,25056,\n", encoding="utf-8")
    code, _, err = cli(capsys, "patients", "import", str(bad))
    assert code == 1
    assert "ligne 2" in err and "ligne 3" in err and "ligne 4" in err and "ligne 5" not in err
    assert "rien n'a été importé" in err
    code, _, err = cli(capsys, "enroll", "--patient", "P-103", "--pathway", "exemple-suivi")
    assert code == 1 and "patient inconnu" in err  # the valid row was not imported either
    wrong = territory / "wrong.csv"
    wrong.write_text("rpps,nom\n1,2\n", encoding="utf-8")
    code, _, err = cli(capsys, "professionals", "import", str(wrong))
    assert code == 1 and "colonnes inconnues nom" in err
    yaml_file = territory / "pros.yaml"
    yaml_file.write_text("- rpps: '10000000077'\n  family_name: Yaml\n  given_names: Ok\n"
                         "  profession: pharmacien\n- rpps: 123\n  family_name: Bad\n"
                         "  given_names: X\n  profession: pharmacien\n", encoding="utf-8")
    code, _, err = cli(capsys, "professionals", "import", str(yaml_file))
    assert code == 1 and "ligne 5" in err and "RPPS '123' invalide" in err
    code, _, err = cli(capsys, "professionals", "import", str(territory / "missing.csv"))
    assert code == 1 and "introuvable" in err


def test_duplicate_event_id_changes_nothing(territory: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = ["enroll", "--patient", MARIE, "--pathway", "exemple-suivi", "--event-id", "e-1",
            "--now", "2026-01-05T09:00"]
    assert cli(capsys, *args)[0] == 0
    code, out, _ = cli(capsys, *args)
    assert code == 0 and "déjà appliqué" in out


@pytest.mark.parametrize("args", [
    ("task", "complete", "9223372036854775808", "--result", "grade=2"),
    ("case", "close", "2147483648", "--reason", "test"),
    ("case", "show", "2147483648"),
    ("event", "sortie", "--case", "99999999999"),
], ids=["task-int64", "case-close-int32", "case-show-int32", "event-case"])
def test_ids_out_of_range_are_unknown(territory: Path, capsys: pytest.CaptureFixture[str],
                                      args: tuple[str, ...]) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 1
    assert "inconnu" in out + err


def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    from sqlalchemy import select

    from engine.store.db import make_engine, transaction
    from engine.store.tables import ALL_TABLES

    engine = make_engine(url)
    with transaction(engine) as session:
        out = {t.__tablename__: [tuple(r) for r in session.execute(  # type: ignore[attr-defined]
            select(t.__table__).order_by(*t.__table__.primary_key.columns)).all()]  # type: ignore[attr-defined]
            for t in ALL_TABLES}
    engine.dispose()
    return out


BAD_OBSERVATIONS = [
    (("--value", "NaN"), "n'est pas un nombre"),
    (("--value", "inf"), "n'est pas un nombre"),
    (("--value=-inf",), "n'est pas un nombre"),
    (("--value", "1e309"), "n'est pas un nombre"),
    (("--value", "1_0"), "n'est pas un nombre"),
    (("--value", ""), "n'est pas un nombre"),
    (("--value", "7,5", "--at", "0001-01-01T00:00"), "impossible : avant 1900"),
    (("--value", "7,5", "--at", "1940-01-01T00:00"), "précède la naissance"),
    (("--value", "7,5", "--at", "2030-01-01T00:00"), "dans le futur"),
    (("--value", "45"), "est impossible"),
    (("--value", "x" * 10_000), "n'est pas un nombre"),
    (("--value", "7\x005"), "argument n° 11 : caractère nul (octet 0) interdit"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_OBSERVATIONS,
                         ids=["nan", "inf", "-inf", "1e309", "underscore", "empty", "year-1",
                              "before-birth", "future", "impossible", "10kB", "nul"])
def test_bad_observation_values_write_nothing(territory: Path, cli_env: str,
                                              capsys: pytest.CaptureFixture[str],
                                              extra: tuple[str, ...], message: str) -> None:
    assert cli(capsys, "enroll", "--patient", MARIE, "--pathway", "exemple-suivi",
               "--now", "2026-01-06T09:00")[0] == 0
    before = _dump(cli_env)
    code, out, err = cli(capsys, "observe", "--patient", MARIE, "--code", "4548-4",
                         "--unit", "%", "--now", "2026-01-10T09:00", *extra)
    assert code == (2 if "\x00" in extra[-1] else 1) and message in out + err, out + err
    assert _dump(cli_env) == before


@pytest.mark.parametrize("extra", [("--source", "s" * 10_000), ("--event-id", "e" * 10_000),
                                   ("--source", "lab\x00oratoire"),
                                   ("--unit", "u" * 10_000)],
                         ids=["source", "event-id", "nul", "unit"])
def test_ten_kilobyte_options_are_refused(territory: Path, cli_env: str,
                                          capsys: pytest.CaptureFixture[str],
                                          extra: tuple[str, ...]) -> None:
    before = _dump(cli_env)
    code, out, err = cli(capsys, "observe", "--patient", MARIE, "--code", "4548-4",
                         "--value", "7,5", "--now", "2026-01-10T09:00", *extra)
    assert code == (2 if "\x00" in extra[1] else 1)
    assert ("10000 caractères, au plus" in out + err
            or "caractère nul (octet 0) interdit" in out + err)
    assert extra[1] not in out + err
    assert _dump(cli_env) == before
