"""Territory settings in the database (SQLite and PostgreSQL): publication, new cases
running with the latest settings through ``CaseService``, behaviour changed by a changed
delay and threshold, and ``parcours settings`` / ``parcours pathways show|diff``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from engine.durations import Duration
from engine.store import settings as territory
from engine.store.db import transaction
from engine.store.exceptions import InputError, NotFoundError
from engine.store.service import CaseService
from engine.store.tables import CaseRow, Patient, SettingsVersion, TaskRow, TimerRow
from flows.cli import main
from tests.db.world import EXAMPLE, T0, build

MARIE = "195031234567890"
JEAN = "P-002"
JULIE = "P-003"  # born 2015: not eligible under the default age_min of 18


def publish(svc: CaseService, text: str, by: str = "alice", at: timedelta = timedelta(0),
            file: str = "exemple-suivi.settings.yaml") -> territory.Published:
    return svc.publish_settings(text, file, "exemple-suivi", by, T0 + at)


def rows(engine: Engine) -> list[SettingsVersion]:
    with transaction(engine) as s:
        return list(s.scalars(select(SettingsVersion).order_by(SettingsVersion.version)))


def case_of(engine: Engine, case_id: int) -> CaseRow:
    with transaction(engine) as s:
        row = s.get(CaseRow, case_id)
        assert row is not None
        return row


def open_task(engine: Engine, case_id: int, key: str) -> TaskRow:
    with transaction(engine) as s:
        return s.scalars(select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.key == key,
                                               TaskRow.status == "requested")).one()


def hba1c_timer(engine: Engine, case_id: int) -> TimerRow:
    with transaction(engine) as s:
        return s.scalars(select(TimerRow).where(TimerRow.case_id == case_id,
                                                TimerRow.name == "hba1c_due")).one()


# -- publication ----------------------------------------------------------------------------

def test_publication_is_idempotent_on_the_same_values(engine: Engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    first = publish(svc, "hba1c_interval: P6M\nhba1c_target: 7.5\n")
    assert (first.version, first.created, first.changed) == \
        (1, True, ("hba1c_interval", "hba1c_target"))
    same = publish(svc, "# même valeurs, autre ordre\nhba1c_target: 7.5\nhba1c_interval: P6M\n",
                   by="bob", at=timedelta(days=1))
    assert (same.version, same.created, same.id) == (1, False, first.id)
    changed = publish(svc, "hba1c_interval: P6M\nhba1c_target: 8.0\n", by="bob",
                      at=timedelta(days=2))
    assert (changed.version, changed.created, changed.changed) == (2, True, ("hba1c_target",))
    back = publish(svc, "hba1c_interval: P6M\nhba1c_target: 7.5\n", at=timedelta(days=3))
    assert (back.version, back.created) == (3, True)  # the latest version is what applies
    found = rows(engine)
    assert [(r.version, r.published_by, r.published_at, r.values["hba1c_target"])
            for r in found] == [(1, "alice", T0, 7.5), (2, "bob", T0 + timedelta(days=2), 8.0),
                                (3, "alice", T0 + timedelta(days=3), 7.5)]
    assert found[0].source == "hba1c_interval: P6M\nhba1c_target: 7.5\n"
    assert found[0].file == "exemple-suivi.settings.yaml"


def test_invalid_settings_are_refused_and_nothing_is_written(engine: Engine,
                                                             tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    with pytest.raises(InputError, match=r"(?s)est invalide, non publié :\n"
                       r"r.yaml:2:1: paramètre inconnu 'hba1c_cible'.*"
                       r"paramètres du parcours exemple-suivi : age_min, hba1c_target, "
                       r"hba1c_interval, max_failures"):
        publish(svc, "hba1c_interval: P6M\nhba1c_cible: 7\n", file="r.yaml")
    with pytest.raises(NotFoundError, match="parcours inconnu"):
        svc.publish_settings("a: 1\n", "r.yaml", "inconnu", "alice", T0)
    assert rows(engine) == []


# -- new cases run with the latest settings ---------------------------------------------------

def test_new_cases_get_the_latest_settings_running_ones_keep_theirs(engine: Engine,
                                                                     tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    before = svc.enroll(MARIE, "exemple-suivi", T0).case_ids[0]
    published = publish(svc, "hba1c_interval: P1M\nage_min: 10\n")
    result = svc.enroll(JEAN, "exemple-suivi", T0)
    assert "réglages v1" in result.message
    after = result.case_ids[0]
    assert case_of(engine, before).settings_version_id is None
    assert case_of(engine, after).settings_version_id == published.id
    # the overridden age makes an 11-year-old eligible: eligibility reads the settings too
    child = svc.enroll(JULIE, "exemple-suivi", T0).case_ids[0]
    assert case_of(engine, child).settings_version_id == published.id
    day = T0 + timedelta(days=2)
    for case_id in (before, after):
        svc.complete_task(open_task(engine, case_id, "bilan_initial").id, {}, day, day)
    assert hba1c_timer(engine, before).fire_at == Duration.parse("P3M").add_to(day)
    assert hba1c_timer(engine, after).fire_at == Duration.parse("P1M").add_to(day)


def test_many_enrolments_at_once_get_the_settings_too(engine: Engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    published = publish(svc, "age_min: 10\n")
    with transaction(engine) as s:
        ids = sorted(s.scalars(select(Patient.id)).all())
    report = svc.enroll_many([i for i in ids if i is not None], "exemple-suivi", T0)
    assert report.enrolled == 3  # the child too, under age_min 10
    assert {case_of(engine, c).settings_version_id for c in report.case_ids} == {published.id}


def test_a_changed_delay_and_threshold_change_what_happens(engine: Engine,
                                                           tmp_path: Path) -> None:
    """The same story under the defaults (Marie) and under the territory's settings (Jean):
    HbA1c every month instead of every three, and a 7.5 % result within an 8 % target."""
    svc = build(engine, tmp_path)
    marie = svc.enroll(MARIE, "exemple-suivi", T0).case_ids[0]
    publish(svc, "hba1c_interval: P1M\nhba1c_target: 8.0\n")
    jean = svc.enroll(JEAN, "exemple-suivi", T0).case_ids[0]
    day = T0 + timedelta(days=1)
    for case_id in (marie, jean):
        svc.complete_task(open_task(engine, case_id, "bilan_initial").id, {}, day, day)
    month = T0 + timedelta(days=40)
    svc.advance(month)
    assert "suivi.glycemie.dosage" in case_of(engine, jean).active_states
    assert "suivi.glycemie.attente" in case_of(engine, marie).active_states
    svc.observe(JEAN, "4548-4", 7.5, "%", month, month)
    assert "suivi.glycemie.attente" in case_of(engine, jean).active_states  # within 8 %
    later = T0 + timedelta(days=100)
    svc.advance(later)
    svc.observe(MARIE, "4548-4", 7.5, "%", later, later)
    assert "suivi.glycemie.revue" in case_of(engine, marie).active_states  # above 7 %
    assert case_of(engine, marie).facts["failures"] == 1


def test_settings_that_no_longer_fit_a_new_pathway_version_stop_enrolment(
        engine: Engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    publish(svc, "max_failures: 2\n")
    text = EXAMPLE.read_text(encoding="utf-8")
    without = text.replace("  max_failures: {type: integer, default: 3, description: Échecs "
                           "consécutifs avant avis spécialisé, cpts_choice: true}\n", "")
    without = without.replace("facts.failures + 1 >= params.max_failures",
                              "facts.failures + 1 >= 3")
    assert svc.publish(without, "v2.yaml", T0).version == 2
    with pytest.raises(InputError, match=r"les réglages v1 de exemple-suivi ne conviennent pas "
                       r"à cette version du parcours \(version 1 du fichier\) : "
                       r"paramètre 'max_failures' non déclaré"):
        svc.enroll(MARIE, "exemple-suivi", T0)
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 0


def test_effective_parameters_are_computed_once_per_pair(engine: Engine,
                                                         tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    publish(svc, "hba1c_target: 8.0\n")
    svc.enroll(MARIE, "exemple-suivi", T0)
    svc.enroll(JEAN, "exemple-suivi", T0)
    assert len(svc._runtimes) == 1
    runtime = next(iter(svc._runtimes.values()))
    assert runtime.params["hba1c_target"] == 8.0 and runtime.params["max_failures"] == 3


# -- the command line -------------------------------------------------------------------------

def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_cli_publish_then_show_in_french_and_json(engine: Engine, tmp_path: Path, cli_env: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    build(engine, tmp_path)
    path = tmp_path / "exemple-suivi.settings.yaml"
    code, out, _ = cli(capsys, "pathways", "show", "exemple-suivi")
    assert code == 0
    assert "Réglages du territoire : aucun (valeurs par défaut du parcours)" in out
    assert "  hba1c_target = 7.0 % (valeur par défaut du parcours)" in out
    path.write_text("hba1c_target: 7.5\nhba1c_interval: P6M\n", encoding="utf-8")
    code, out, _ = cli(capsys, "settings", "publish", str(path), "--by", "Dr Alice",
                       "--now", "2026-02-01T10:00")
    assert code == 0
    assert "réglages de exemple-suivi v1 publiés ; paramètres modifiés : hba1c_interval, " \
           "hba1c_target" in out
    path.write_text("hba1c_target: 7.5\nhba1c_interval: P4M\n", encoding="utf-8")
    assert cli(capsys, "settings", "publish", str(path), "--by", "Bob",
               "--now", "2026-03-01T10:00")[0] == 0
    assert "inchangés" in cli(capsys, "settings", "publish", str(path), "--by", "Eve",
                              "--now", "2026-03-02T10:00")[1]
    code, out, _ = cli(capsys, "pathways", "show", "exemple-suivi")
    assert code == 0
    assert "Parcours exemple-suivi v1 : " in out
    assert "Réglages du territoire : v2, publiés le 01/03/2026 10:00 par Bob" in out
    assert "  hba1c_target = 7.5 % (réglages v2 ; modifié par Dr Alice le 01/02/2026 10:00 ; " \
           "défaut du parcours : 7.0 %)" in out
    assert "  hba1c_interval = P4M (réglages v2 ; modifié par Bob le 01/03/2026 10:00 ; " \
           "défaut du parcours : P3M)" in out
    assert "  age_min = 18 (valeur par défaut du parcours)" in out
    code, out, _ = cli(capsys, "pathways", "show", "exemple-suivi", "--json")
    data = json.loads(out)
    assert (data["key"], data["version"], data["settings_version"]) == ("exemple-suivi", 1, 2)
    by_name = {p["name"]: p for p in data["parameters"]}
    assert by_name["hba1c_target"] | {"description": ""} == {
        "name": "hba1c_target", "type": "number", "unit": "%", "value": 7.5, "default": 7.0,
        "source": "settings", "settings_version": 2, "overridden_by": "Dr Alice",
        "overridden_at": "2026-02-01T09:00:00+00:00", "description": ""}
    assert by_name["age_min"]["source"] == "pathway"
    assert by_name["age_min"]["overridden_by"] is None
    assert cli(capsys, "enroll", "--patient", MARIE, "--pathway", "exemple-suivi",
               "--now", "2026-03-03T10:00")[0] == 0
    code, out, _ = cli(capsys, "case", "show", "1", "--now", "2026-03-03T10:00")
    assert code == 0 and "Dossier 1 · parcours exemple-suivi v1 · réglages v2 · " in out
    code, out, _ = cli(capsys, "case", "show", "1", "--json")
    assert json.loads(out)["settings_version"] == 2
    code, out, _ = cli(capsys, "settings", "list", "exemple-suivi", "--json")
    assert [(v["version"], v["published_by"]) for v in json.loads(out)] == [(1, "Dr Alice"),
                                                                            (2, "Bob")]


def test_cli_refuses_bad_settings_with_their_position(engine: Engine, tmp_path: Path,
                                                      cli_env: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    build(engine, tmp_path)
    path = tmp_path / "exemple-suivi.settings.yaml"
    path.write_text("hba1c_interval: trois mois\n", encoding="utf-8")
    code, _, err = cli(capsys, "settings", "publish", str(path))
    assert code == 1
    assert f"{path}:1:17: hba1c_interval : valeur attendue : une durée ISO-8601" in err
    code, out, _ = cli(capsys, "settings", "validate", str(path))  # the published pathway
    assert code == 1 and f"{path}:1:17:" in out
    assert rows(engine) == []


def test_cli_diff_of_published_versions(engine: Engine, tmp_path: Path, cli_env: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    svc = build(engine, tmp_path)
    text = EXAMPLE.read_text(encoding="utf-8").replace("due: P15D\n    reminder: P10D",
                                                       "due: P10D\n    reminder: P7D")
    assert svc.publish(text, "v2.yaml", T0).version == 2
    code, out, _ = cli(capsys, "pathways", "diff", "exemple-suivi@1", "exemple-suivi@2")
    assert code == 0
    assert "Tâches (1 modifié(s))" in out and "due : 'P15D' → 'P10D'" in out
    code, out, _ = cli(capsys, "pathways", "diff", "exemple-suivi@1", str(EXAMPLE), "--json")
    assert code == 0 and json.loads(out)["tasks"]["changed"] == []
    code, _, err = cli(capsys, "pathways", "diff", "exemple-suivi@1", "exemple-suivi@7")
    assert code == 1 and "versions publiées : 1, 2" in err


def test_hostile_settings_command_lines_end_with_a_message(
        engine: Engine, tmp_path: Path, cli_env: str, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The settings and pathway-version commands under the CLI fuzzer's hostile values."""
    import random

    from tests.db.test_cli_fuzz import _file, _id, _moment, _text

    build(engine, tmp_path)
    settings_file = tmp_path / "exemple-suivi.settings.yaml"
    settings_file.write_text("hba1c_target: 7.5\n", encoding="utf-8")
    file = _file(tmp_path)
    some_file = lambda r: r.choice([str(settings_file), file(r)])  # noqa: E731
    target = lambda r: r.choice(["exemple-suivi", "exemple-suivi@1", "exemple-suivi@0",  # noqa: E731
                                 "exemple-suivi@99999999999999999999", "x@1", str(EXAMPLE),
                                 file(r), _text(r)])
    templates = [
        ["settings", "publish", some_file, "--pathway", target, "--by", _text,
         "--now", _moment],
        ["settings", "publish", some_file],
        ["settings", "validate", some_file, "--pathway", target],
        ["settings", "list", _text, "--json"],
        ["pathways", "show", target],
        ["pathways", "show", target, "--json"],
        ["pathways", "diff", target, target],
        ["pathways", "diff", target, target, "--json"],
        ["case", "show", _id],
    ]
    rng = random.Random(15 + db_url.startswith("postgresql"))
    codes = {0: 0, 1: 0, 2: 0}
    for n in range(150):
        template = rng.choice(templates)
        argv = [part(rng) if callable(part) else part for part in template]
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = capsys.readouterr()
        where = f"invocation {n}: {[a[:40] for a in argv]}"
        assert "Traceback" not in out + err, f"{where}\n{err[-2000:]}"
        assert code in codes, f"{where}: exit {code}\n{err[-2000:]}"
        assert code == 0 or err.strip() or out.strip(), f"{where}: failed without a message"
        codes[code] += 1
    assert codes[0] and codes[1]
