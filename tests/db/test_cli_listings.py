"""The coordinators' listings (``cases``, ``patients search``, ``professionals list``,
``careteam show``, ``task show``, ``tasks``) and ``case show``, in text and JSON, on SQLite
and PostgreSQL; and no English code word in what coordinators read."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

import engine.exceptions
import engine.store.exceptions
import engine.store.urls
from engine.store.tables import TASK_STATUSES
from flows.cli import main
from tests.db.world import EXAMPLE, PATIENTS, PROFESSIONALS

MARIE = "195031234567890"
NOW = "2026-03-01T09:00"
#: a patient whose names carry accents, found by a name typed without them
HELENE = ",P-004,Lefèvre,Hélène,1948-05-02,F,25056,44054006\n"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def error_classes() -> set[str]:
    """Every exception class name Parcours defines for its errors."""
    names = set()
    for module in (engine.exceptions, engine.store.exceptions, engine.store.urls):
        names |= {name for name, obj in inspect.getmembers(module, inspect.isclass)
                  if issubclass(obj, Exception)}
    return names


#: words coordinators must never read: FHIR task statuses, inbox statuses, history kinds,
#: exception class names, argparse's English (``task_completed``/``task_cancelled`` are also
#: names users type: event kinds and message templates)
FORBIDDEN = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in sorted({
    *TASK_STATUSES, "applied", "duplicate", "task_created", "enrolment", "timer_fired",
    "fact_set", "guard_failed", "case_closed",
    "Error:", "error:", "usage:", "positional arguments", "Traceback",
    *error_classes()}, key=len, reverse=True)) + r")(?![\w-])")


def french_only(text: str) -> None:
    found = FORBIDDEN.findall(text)
    assert not found, f"English code words in user-facing output: {found}\n{text}"


@pytest.fixture
def territory(cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "pros.csv").write_text(PROFESSIONALS, encoding="utf-8")
    (tmp_path / "patients.csv").write_text(PATIENTS + HELENE, encoding="utf-8")
    start = "2026-01-05T09:00"
    assert cli(capsys, "pathways", "publish", str(EXAMPLE), "--now", start)[0] == 0
    assert cli(capsys, "professionals", "import", str(tmp_path / "pros.csv"))[0] == 0
    assert cli(capsys, "patients", "import", str(tmp_path / "patients.csv"), "--now",
               start)[0] == 0
    for patient, role, rpps in ((MARIE, "medecin_traitant", "10000000001"),
                                (MARIE, "infirmier", "10000000002"),
                                ("P-002", "medecin_traitant", "10000000001")):
        assert cli(capsys, "careteam", "set", "--patient", patient, "--role", role,
                   "--professional", rpps, "--from", "2025-01-01")[0] == 0
    for patient in (MARIE, "P-002", "P-004"):
        assert cli(capsys, "enroll", "--patient", patient, "--pathway", "exemple-suivi",
                   "--now", start)[0] == 0
    # Marie's initial check-up is done: her case moves on to « Suivi »
    assert cli(capsys, "task", "complete", "1", "--by", "10000000001",
               "--now", "2026-01-10T10:00")[0] == 0
    return tmp_path


def test_cases_by_pathway_state_and_overdue(territory: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "cases", "--now", NOW)
    assert code == 0
    assert "Marie Durand" in out and "Hélène Lefèvre" in out and "Inclusion" in out
    assert "3 dossiers" in out
    french_only(out)
    code, out, _ = cli(capsys, "cases", "--state", "suivi", "--json", "--now", NOW)
    page = json.loads(out)
    assert page["total"] == 1 and page["items"][0]["patient"] == "Marie Durand"
    assert set(page["items"][0]["state_titles"]) == {"En attente du dosage", "Examen"} or \
        all(isinstance(t, str) and t for t in page["items"][0]["state_titles"])
    assert all(s.startswith("suivi.") for s in page["items"][0]["states"])
    code, out, _ = cli(capsys, "cases", "--state", "inclusion", "--pathway", "exemple-suivi",
                       "--json", "--now", NOW)
    assert json.loads(out)["total"] == 2
    # before the initial check-ups are due nothing is late; after, the two in « Inclusion »
    # and Marie's foot examination are
    code, out, _ = cli(capsys, "cases", "--overdue", "--json", "--now", "2026-01-06T09:00")
    assert json.loads(out)["total"] == 0
    code, out, _ = cli(capsys, "cases", "--overdue", "--json", "--now", NOW)
    items = json.loads(out)["items"]
    assert len(items) == 3 and all(i["overdue_tasks"] >= 1 for i in items)
    code, out, _ = cli(capsys, "cases", "--limit", "2", "--now", NOW)
    assert "3 dossiers, 2 affiché(s)" in out and "… 1 de plus : --offset 2" in out
    code, out, _ = cli(capsys, "cases", "--limit", "2", "--offset", "2", "--json", "--now", NOW)
    page = json.loads(out)
    assert page["more"] == 0 and [i["id"] for i in page["items"]] == [3]


@pytest.mark.parametrize(("args", "message"), [
    (["cases", "--state", "nulle_part"], "état 'nulle_part' inconnu ; états possibles : "),
    (["cases", "--pathway", "inconnu"], "parcours inconnu"),
    (["cases", "--limit", "0"], "--limit 0 : attendu un nombre entre 1 et"),
    (["patients", "search", "  "], "recherche vide"),
    (["careteam", "show", "personne"], "patient inconnu"),
    (["task", "show", "999"], "tâche inconnu"),
    (["task", "show", "9223372036854775808"], "tâche inconnu"),
    (["tasks", "--status", "requested!"], "statut 'requested!' inconnu ; valeurs possibles :"),
])
def test_listing_errors_are_one_french_line(territory: Path, capsys: pytest.CaptureFixture[str],
                                            args: list[str], message: str) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith("erreur : ") and message in err and err.count("\n") == 1
    french_only(err.replace("requested!", ""))


@pytest.mark.parametrize(("text", "expected"), [
    ("helene lefevre", ["P-004"]), ("LEFÈVRE", ["P-004"]), ("lefevre hélène", ["P-004"]),
    ("02/05/1948", ["P-004"]), ("1948-05-02", ["P-004"]), (MARIE, [MARIE]),
    ("p-002", ["P-002"]), ("moreau", ["P-002"]), ("durand marie", [MARIE]), ("2", ["P-002"]),
    ("dupont", []),
])
def test_patients_search_ignores_accents_and_case(
        territory: Path, capsys: pytest.CaptureFixture[str], text: str,
        expected: list[str]) -> None:
    code, out, _ = cli(capsys, "patients", "search", text, "--json")
    assert code == 0
    found = [p["ins"] or p["local_id"] for p in json.loads(out)["items"]]
    assert found == expected
    code, out, _ = cli(capsys, "patients", "search", text)
    if expected:
        assert f"{len(expected)} patient" in out
    else:
        assert "aucun patient ne correspond" in out
    french_only(out)


def test_professionals_by_role_and_activity(territory: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "professionals", "list", "--now", NOW)
    assert code == 0 and "Paul Martin" in out and "4 professionnels" in out
    french_only(out)
    # a care-team role (held today) or a profession
    code, out, _ = cli(capsys, "professionals", "list", "--role", "medecin_traitant", "--json",
                       "--now", NOW)
    (martin,) = json.loads(out)["items"]
    assert martin["rpps"] == "10000000001" and martin["open_tasks"] == 1
    assert martin["overdue_tasks"] == 1  # Jean Moreau's initial check-up, due 20/01
    code, out, _ = cli(capsys, "professionals", "list", "--role", "infirmier", "--json")
    assert [p["family_name"] for p in json.loads(out)["items"]] == ["Bernard"]
    code, out, _ = cli(capsys, "professionals", "list", "--active", "non", "--json")
    assert json.loads(out)["total"] == 0
    code, out, _ = cli(capsys, "professionals", "list", "--search", "claire", "--json")
    assert [p["profession"] for p in json.loads(out)["items"]] == ["coordinateur"]
    with pytest.raises(SystemExit) as exited:
        main(["professionals", "list", "--active", "peut-être"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "choix invalide" in err and "utilisation :" in err


def test_careteam_show(territory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "careteam", "show", MARIE, "--now", NOW)
    assert code == 0
    assert "Équipe de soins de Marie Durand" in out
    assert "Médecin traitant" in out and "Paul Martin (RPPS 10000000001)" in out
    assert "Anne Bernard" in out and "depuis le 01/01/2025" in out
    french_only(out)
    code, out, _ = cli(capsys, "careteam", "show", "P-004", "--json", "--now", NOW)
    team = json.loads(out)
    assert team["patient"]["name"] == "Hélène Lefèvre" and team["members"] == []
    code, out, _ = cli(capsys, "careteam", "show", "P-004", "--now", NOW)
    assert "aucun membre" in out


def test_task_show_and_tasks_name_the_assignee(territory: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "tasks", "--now", NOW)
    assert code == 0
    assert "Paul Martin" in out and "Claire Roux" in out and "à faire" in out
    assert "rôle vacant → coordination" in out  # Hélène has no care team
    french_only(out)
    code, out, _ = cli(capsys, "tasks", "--json", "--now", NOW)
    tasks = json.loads(out)
    assert {t["assignee"] for t in tasks} == {"Paul Martin", "Anne Bernard", "Claire Roux"}
    code, out, _ = cli(capsys, "tasks", "--status", "terminées", "--json")
    assert [t["id"] for t in json.loads(out)] == [1]
    code, out, _ = cli(capsys, "tasks", "--limit", "1", "--now", NOW)
    assert "… 3 de plus" in out
    code, out, _ = cli(capsys, "task", "show", "1", "--now", NOW)
    assert "Tâche 1 : Réaliser le bilan initial" in out
    assert "statut : terminée" in out and "close le 10/01/2026" in out
    assert "par Paul Martin" in out and "étape « Inclusion »" in out
    assert "patient : Marie Durand" in out
    french_only(out)
    foot = next(t for t in tasks if t["assignee"] == "Anne Bernard")
    code, out, _ = cli(capsys, "task", "show", str(foot["id"]), "--json", "--now", NOW)
    shown = json.loads(out)
    assert shown["assignee"] == "Anne Bernard" and shown["role_title"] == "Infirmier"
    assert shown["overdue"] and [h["kind"] for h in shown["history"]] == ["task_created"]


def test_case_show_names_the_tasks_in_french(territory: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "case", "show", "1", "--now", NOW)
    assert code == 0
    # the history is the coordinator's web timeline (engine.narrative)
    assert ("« Réaliser le bilan initial » demandée au Dr Paul Martin (Médecin traitant) "
            "pour le 20/01/2026") in out
    assert "« Réaliser le bilan initial » terminée par le Dr Paul Martin" in out
    assert "passage à l'étape « Suivi »" in out
    assert not re.search(r"→\s*$", out, re.MULTILINE)  # never an arrow to nothing
    french_only(out)


def test_typical_outputs_are_french(territory: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """What a coordinator reads after everyday commands: no code word, no class name."""
    outputs = []
    for args in (["observe", "--patient", MARIE, "--code", "4548-4", "--value", "7,8",
                  "--unit", "%", "--now", NOW],
                 ["advance", "--now", "2026-06-01T08:00"],
                 ["pathways", "list"], ["inbox", "list"], ["outbox"],
                 ["enroll", "--patient", MARIE, "--pathway", "exemple-suivi",
                  "--event-id", "x-1", "--now", NOW],
                 ["enroll", "--patient", "P-003", "--pathway", "exemple-suivi",
                  "--event-id", "x-2", "--now", NOW],
                 ["task", "complete", "1", "--now", NOW],
                 ["case", "show", "42"], ["observe", "--patient", MARIE, "--code", "hba1c",
                                           "--value", "abc", "--now", NOW],
                 ["inbox", "list", "--status", "refusés"],
                 ["outbox", "--status", "en-échec"]):
        _, out, err = cli(capsys, *args)
        outputs.append(out + err)
    french_only("\n".join(outputs))
