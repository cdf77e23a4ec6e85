"""Migration of running cases: one test per mapping situation, plan writes nothing, apply is
idempotent, rollback moves back what it can. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine import outbox
from engine.case import Migrated
from engine.clock import PARIS
from engine.store import migration
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.tables import CaseEvent, CaseRow, MigrationRun, OutboxRow
from tests.db import migration_world as w
from tests.db.world import T0, build

MARIE, JEAN = "195031234567890", "P-002"
LATER = T0 + timedelta(days=20)


@pytest.fixture
def svc(engine: Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    return build(engine, tmp_path)


def history(engine: Engine, case_id: int, kind: str) -> list[CaseEvent]:
    with transaction(engine) as s:
        rows = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                 CaseEvent.kind == kind)).all()
        for row in rows:
            s.expunge(row)
        return list(rows)


def test_same_names_plan_writes_nothing_then_apply(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    other = svc.enroll(JEAN, w.KEY, T0).case_ids[0]          # stays in inclusion
    assert w.publish(svc, w.variant(("title: Suivi d'exemple", "title: Suivi d'exemple (v2)"))) == 2
    before_timers = w.timers(engine, case)
    before = w.dump_tables(engine)
    plan = migration.plan(engine, w.KEY, 2, LATER)
    assert w.dump_tables(engine) == before                   # a plan writes nothing
    assert plan.cases == plan.migrated == 2 and not plan.refused
    assert plan.moves == {("suivi.glycemie.attente", "suivi.glycemie.attente"): 1,
                          ("suivi.pieds.examen", "suivi.pieds.examen"): 1,
                          ("inclusion", "inclusion"): 1}
    assert not plan.cancelled and not plan.created and not plan.rearmed
    text = "\n".join(plan.lines())
    assert "2 migrable(s)" in text and "inchangée" in text
    report = migration.apply(engine, w.KEY, 2, LATER)
    assert report.counts() == {**plan.counts()}
    row = w.case_row(engine, case)
    assert w.timers(engine, case).keys() == before_timers.keys()
    assert {n: t.fire_at for n, t in w.timers(engine, case).items()} == \
        {n: t.fire_at for n, t in before_timers.items()}
    lines = history(engine, case, Migrated.kind)
    assert [line.data["note"] for line in lines] == ["passé de la version 1 à la version 2"]
    assert row.row_version > 1
    # cases keep working on the new version: the foot examination leads on
    w.to_prevention(svc, case, LATER + timedelta(days=1))
    assert "suivi.pieds.prevention" in w.case_row(engine, case).active_states
    assert w.case_row(engine, other).active_states == ["inclusion"]


def test_apply_is_idempotent_and_a_second_run_skips_migrated_cases(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    w.publish(svc, w.variant(("title: Suivi d'exemple", "title: Suivi v2")))
    first = migration.apply(engine, w.KEY, 2, LATER)
    again = migration.apply(engine, w.KEY, 2, LATER)
    assert first.migrated == 1 and again.cases == 0 and again.run is None
    assert len(history(engine, case, Migrated.kind)) == 1
    with transaction(engine) as s:
        assert [r.status for r in s.scalars(select(MigrationRun))] == ["done"]


RENAMED = w.variant(("          attente:\n", "          en_attente:\n"),
                    ("initial: attente", "initial: en_attente"),
                    ("to: attente", "to: en_attente"))
RENAME_MAPPING = """\
pathway: exemple-suivi
from: 1
to: 2
states:
  suivi.glycemie.attente: suivi.glycemie.en_attente
"""


def test_renamed_state(svc, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    fire_at = w.timers(engine, case)["hba1c_due"].fire_at
    w.publish(svc, RENAMED)
    without = migration.plan(engine, w.KEY, 2, LATER)
    assert without.migrated == 0 and len(without.refused) == 1
    assert "« suivi.glycemie.attente » n'existe plus" in without.refused[0][1]
    mapping = w.write(tmp_path, "m.yaml", RENAME_MAPPING)
    plan = migration.plan(engine, w.KEY, 2, LATER, mapping_path=mapping)
    assert plan.moves[("suivi.glycemie.attente", "suivi.glycemie.en_attente")] == 1
    migration.apply(engine, w.KEY, 2, LATER, mapping_path=mapping)
    assert w.case_row(engine, case).active_states == ["suivi.glycemie.en_attente",
                                                      "suivi.pieds.examen"]
    timer = w.timers(engine, case)["hba1c_due"]
    assert (timer.state, timer.fire_at) == ("suivi.glycemie.en_attente", fire_at)
    # the renamed state's timer fires on the new version
    svc.advance(fire_at + timedelta(minutes=1))
    assert "suivi.glycemie.dosage" in w.case_row(engine, case).active_states


SPLIT = w.variant(
    ("          revue:\n            on_enter:\n",
     "          revue_legere:\n            on_enter:\n              tasks: [revoir_traitement]\n"
     "            transitions:\n              - on: task_completed:revoir_traitement\n"
     "                to: attente\n          revue_forte:\n            on_enter:\n"),
    ("              - on: observation:hba1c\n                to: revue\n",
     "              - on: observation:hba1c\n"
     "                guard: \"facts.foot_grade is not none and facts.foot_grade >= 2\"\n"
     "                to: revue_forte\n                set: {failures: \"facts.failures + 1\"}\n"
     "              - on: observation:hba1c\n                to: revue_legere\n"))
SPLIT_MAPPING = """\
pathway: exemple-suivi
from: 1
to: 2
states:
  suivi.glycemie.revue:
    - to: suivi.glycemie.revue_forte
      when: "facts.foot_grade is not none and facts.foot_grade >= 2"
    - to: suivi.glycemie.revue_legere
"""


def in_revue(svc, patient: str, grade: int) -> int:  # type: ignore[no-untyped-def]
    """A case in suivi.glycemie.revue (HbA1c above target), feet graded ``grade``."""
    case = w.enrol_in_suivi(svc, patient)
    task = w.open_task(svc.engine, case, "examen_pieds")
    svc.complete_task(task.id or 0, {"grade": grade}, T0 + timedelta(days=2),
                      T0 + timedelta(days=2))
    fire = w.timers(svc.engine, case)["hba1c_due"].fire_at
    svc.advance(fire + timedelta(hours=1))
    svc.observe(patient, "4548-4", "8.4", "%", fire + timedelta(days=2), fire + timedelta(days=2))
    assert "suivi.glycemie.revue" in w.case_row(svc.engine, case).active_states
    return case


def test_split_state(svc, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    strong, light = in_revue(svc, MARIE, 2), in_revue(svc, JEAN, 0)
    w.publish(svc, SPLIT)
    at = T0 + timedelta(days=120)
    mapping = w.write(tmp_path, "m.yaml", SPLIT_MAPPING)
    plan = migration.plan(engine, w.KEY, 2, at, mapping_path=mapping)
    assert plan.moves[("suivi.glycemie.revue", "suivi.glycemie.revue_forte")] == 1
    assert plan.moves[("suivi.glycemie.revue", "suivi.glycemie.revue_legere")] == 1
    migration.apply(engine, w.KEY, 2, at, mapping_path=mapping)
    assert "suivi.glycemie.revue_forte" in w.case_row(engine, strong).active_states
    assert "suivi.glycemie.revue_legere" in w.case_row(engine, light).active_states
    # the open review task is kept, now owned by the state the case went to
    task = w.open_task(engine, light, "revoir_traitement")
    assert task.state == "suivi.glycemie.revue_legere"
    svc.complete_task(task.id or 0, {}, at + timedelta(days=1), at + timedelta(days=1))
    assert "suivi.glycemie.attente" in w.case_row(engine, light).active_states


REMOVED = w.variant(
    ("          revue:\n            on_enter:\n              tasks: [revoir_traitement]\n"
     "            transitions:\n              - on: task_completed:revoir_traitement\n"
     "                to: attente\n", ""),
    ("                to: revue\n", "                to: attente\n"),
    ("  revoir_traitement:\n    title: Revoir le traitement (HbA1c au-dessus de la cible)\n"
     "    role: medecin_traitant\n    due: P1M\n", ""))
REMOVED_MAPPING = """\
pathway: exemple-suivi
from: 1
to: 2
states:
  suivi.glycemie.revue: suivi.glycemie.attente
"""


def test_removed_state_cancels_its_tasks_and_rollback(svc, engine: Engine,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    case, moved_on = in_revue(svc, MARIE, 0), in_revue(svc, JEAN, 0)
    task = w.open_task(engine, case, "revoir_traitement")
    w.publish(svc, REMOVED)
    at = T0 + timedelta(days=120)
    mapping = w.write(tmp_path, "m.yaml", REMOVED_MAPPING)
    plan = migration.plan(engine, w.KEY, 2, at, mapping_path=mapping)
    assert plan.cancelled == {"revoir_traitement": 2} and plan.armed == {"hba1c_due": 2}
    before = {c: (w.case_row(engine, c), w.timers(engine, c)) for c in (case, moved_on)}
    report = migration.apply(engine, w.KEY, 2, at, mapping_path=mapping)
    assert report.cancelled == plan.cancelled
    row = w.case_row(engine, case)
    assert "suivi.glycemie.attente" in row.active_states
    cancelled = next(t for t in w.tasks(engine, case) if t.id == task.id)
    assert cancelled.status == "cancelled" and "migration vers la version 2" in \
        (cancelled.close_reason or "")
    with transaction(engine) as s:   # the professional is told, as for any cancellation
        kinds = [o.kind for o in s.scalars(select(OutboxRow).where(OutboxRow.task_id == task.id))]
    assert outbox.TASK_CANCELLED in kinds
    # the timer of the state the case lands in is armed from the migration time
    assert w.timers(engine, case)["hba1c_due"].fire_at == datetime(2026, 8, 5, 8, 0, tzinfo=UTC)
    # something happens to one case after the migration: it cannot be moved back
    svc.pathway_event(moved_on, "sortie_parcours", at + timedelta(days=1),
                      at + timedelta(days=1), data={"motif": "retrait"})
    back = migration.rollback(engine, report.run or 0, at + timedelta(days=2))
    assert back.moved == 1 and [c for c, _ in back.refused] == [moved_on]
    assert "clos depuis la migration" in back.refused[0][1]
    assert "ne peuvent pas revenir" in "\n".join(back.lines())
    restored = w.case_row(engine, case)
    assert restored.active_states == before[case][0].active_states
    assert restored.pathway_version_id == before[case][0].pathway_version_id
    assert {n: t.fire_at for n, t in w.timers(engine, case).items()} == \
        {n: t.fire_at for n, t in before[case][1].items()}
    reopened = next(t for t in w.tasks(engine, case) if t.id == task.id)
    assert reopened.status == "requested" and reopened.closed_at is None
    assert len(history(engine, case, Migrated.kind)) == 2
    assert w.case_row(engine, moved_on).pathway_version_id != before[moved_on][0].pathway_version_id
    with transaction(engine) as s:
        assert s.get(MigrationRun, report.run).status == "partly_rolled_back"


def test_rollback_moves_back_an_untouched_case(svc, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = in_revue(svc, MARIE, 0)
    task = w.open_task(engine, case, "revoir_traitement")
    row_before, timers_before = w.case_row(engine, case), w.timers(engine, case)
    w.publish(svc, REMOVED)
    at = T0 + timedelta(days=120)
    report = migration.apply(engine, w.KEY, 2, at,
                             mapping_path=w.write(tmp_path, "m.yaml", REMOVED_MAPPING))
    back = migration.rollback(engine, report.run or 0, at + timedelta(hours=1))
    assert back.moved == 1 and not back.refused
    row = w.case_row(engine, case)
    assert (row.active_states, row.facts, row.pathway_version_id) == \
        (row_before.active_states, row_before.facts, row_before.pathway_version_id)
    assert {n: (t.fire_at, t.anchor_at) for n, t in w.timers(engine, case).items()} == \
        {n: (t.fire_at, t.anchor_at) for n, t in timers_before.items()}
    reopened = next(t for t in w.tasks(engine, case) if t.id == task.id)
    assert reopened.status == "requested"
    notes = [line.data["note"] for line in history(engine, case, Migrated.kind)]
    assert notes == ["passé de la version 1 à la version 2",
                     f"revenu de la version 2 à la version 1 (annulation de la migration "
                     f"{report.run})"]
    # the case works on version 1 again: completing the review goes back to waiting
    svc.complete_task(reopened.id or 0, {}, at + timedelta(days=1), at + timedelta(days=1))
    assert "suivi.glycemie.attente" in w.case_row(engine, case).active_states
    with transaction(engine) as s:
        assert s.get(MigrationRun, report.run).status == "rolled_back"


ADDED_REGION = w.variant(
    ("  seance_podologie:\n", "  mesurer_tension:\n    title: Mesurer la tension artérielle\n"
     "    role: infirmier\n    due: P15D\n  seance_podologie:\n"),
    ("  sorti:\n", "      tension:\n        initial: mesure\n        states:\n"
     "          mesure:\n            on_enter:\n              tasks: [mesurer_tension]\n"
     "            timers:\n              tension_due: {after: P6M}\n  sorti:\n"))


def test_added_parallel_region(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    waiting = svc.enroll(JEAN, w.KEY, T0).case_ids[0]     # in inclusion: no region to add
    w.publish(svc, ADDED_REGION)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    plan = migration.plan(engine, w.KEY, 2, at)
    assert plan.entered == {"suivi.tension": 1, "suivi.tension.mesure": 1}
    assert plan.created == {} and plan.migrated == 2
    migration.apply(engine, w.KEY, 2, at)
    assert w.case_row(engine, case).active_states == [
        "suivi.glycemie.attente", "suivi.pieds.examen", "suivi.tension.mesure"]
    timer = w.timers(engine, case)["tension_due"]
    # P6M on the Paris wall clock: 10:00 in March (UTC+1), 10:00 in September (UTC+2)
    assert (timer.fire_at, timer.anchor_at) == (datetime(2026, 9, 10, 8, 0, tzinfo=UTC), at)
    task = w.open_task(engine, case, "mesurer_tension")
    assert task.assignee_id is not None and task.created_at == at
    with transaction(engine) as s:   # announced like any new task
        kinds = [o.kind for o in s.scalars(select(OutboxRow).where(OutboxRow.task_id == task.id))]
    assert kinds == [outbox.TASK_ASSIGNED]
    assert w.case_row(engine, waiting).active_states == ["inclusion"]
    assert "mesurer_tension" not in {t.key for t in w.tasks(engine, waiting)}


MONTHLY = w.variant(("podologie: {every: P3M}", "podologie: {every: P1M}"))


def test_recurring_timer_reanchored_without_drift(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    jan31 = datetime(2026, 1, 31, 10, 0, tzinfo=PARIS)
    w.to_prevention(svc, case, jan31)
    timer = w.timers(engine, case)["podologie"]
    assert (timer.fire_at, timer.anchor_at) == (datetime(2026, 4, 30, 10, 0, tzinfo=PARIS),
                                                jan31)
    w.publish(svc, MONTHLY)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=PARIS)
    plan = migration.plan(engine, w.KEY, 2, at)
    assert plan.rearmed == {"podologie": 1}
    migration.apply(engine, w.KEY, 2, at)
    timer = w.timers(engine, case)["podologie"]
    assert (timer.fire_at, timer.anchor_at, timer.every) == \
        (datetime(2026, 3, 31, 10, 0, tzinfo=PARIS), jan31, "P1M")
    svc.advance(datetime(2026, 6, 1, tzinfo=PARIS))
    sessions = [t.created_at.astimezone(PARIS) for t in w.tasks(engine, case)
                if t.key == "seance_podologie"]
    # March 31, April 30, May 31 at 10:00: on the anchor's schedule, no drift to the 30th
    assert [(d.month, d.day, d.hour) for d in sessions] == [(3, 31, 10), (4, 30, 10),
                                                            (5, 31, 10)]


def test_parameters_changed_rearm_timers_from_their_anchor(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    timer = w.timers(engine, case)["hba1c_due"]
    w.publish(svc, w.variant(("title: Suivi d'exemple", "title: Suivi v2")))
    plan = migration.plan(engine, w.KEY, 2, LATER, to_parameters={"hba1c_interval": "P6M"})
    assert plan.rearmed == {"hba1c_due": 1}
    migration.apply(engine, w.KEY, 2, LATER, to_parameters={"hba1c_interval": "P6M"})
    moved = w.timers(engine, case)["hba1c_due"]
    assert moved.anchor_at == timer.anchor_at
    anchor = timer.anchor_at.astimezone(PARIS)     # 6 months on the Paris wall clock
    assert moved.fire_at == anchor.replace(month=anchor.month + 6)


def test_parameters_changed_by_territory_settings(svc, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Territory settings published for the CPTS reach running cases through migration: the
    plan counts them, apply re-arms their timer from its anchor under the new interval and
    records the settings version, a second apply finds nothing, rollback restores both."""
    from engine.store import settings

    case = w.enrol_in_suivi(svc, MARIE)
    timer = w.timers(engine, case)["hba1c_due"]
    anchor = timer.anchor_at.astimezone(PARIS)
    assert timer.fire_at.astimezone(PARIS) == anchor.replace(month=anchor.month + 3)
    with transaction(engine) as s:
        published = settings.publish(s, "hba1c_interval: P6M\n", "exemple-suivi.settings.yaml",
                                     w.KEY, "Claire Roux", LATER)
    assert migration.plan(engine, w.KEY, 1, LATER).counts()["migrated"] == 1
    report = migration.apply(engine, w.KEY, 1, LATER)
    assert report.counts()["migrated"] == 1
    assert w.timers(engine, case)["hba1c_due"].fire_at == anchor.replace(month=anchor.month + 6)
    with transaction(engine) as s:
        assert s.get(CaseRow, case).settings_version_id == published.id  # type: ignore[union-attr]
    assert migration.plan(engine, w.KEY, 1, LATER).counts()["migrated"] == 0  # nothing left
    migration.rollback(engine, report.run or 0, LATER)
    assert w.timers(engine, case)["hba1c_due"].fire_at == timer.fire_at
    with transaction(engine) as s:
        assert s.get(CaseRow, case).settings_version_id is None  # type: ignore[union-attr]


def test_bad_mapping_is_refused_with_positions_and_nothing_written(svc, engine: Engine,  # type: ignore[no-untyped-def]
                                                                   tmp_path: Path) -> None:
    w.enrol_in_suivi(svc, MARIE)
    w.publish(svc, RENAMED)
    mapping = w.write(tmp_path, "m.yaml", RENAME_MAPPING.replace("en_attente", "en_atente"))
    before = w.dump_tables(engine)
    with pytest.raises(InputError) as err:
        migration.apply(engine, w.KEY, 2, LATER, mapping_path=mapping)
    assert f"{mapping}:5:" in str(err.value) and "en_attente" in str(err.value)
    assert w.dump_tables(engine) == before
    with pytest.raises(InputError, match="versions publiées : 1, 2"):
        migration.plan(engine, w.KEY, 7, LATER)


def test_a_case_row_in_format_1_is_upgraded_when_read(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    case = w.enrol_in_suivi(svc, MARIE)
    jan31 = datetime(2026, 1, 31, 10, 0, tzinfo=PARIS)
    w.to_prevention(svc, case, jan31)
    with engine.begin() as conn:     # as an older release wrote it: no format, no anchors
        conn.execute(text("UPDATE pathway_case SET format = 1 WHERE id = :c"), {"c": case})
        conn.execute(text("UPDATE timer SET anchor_at = NULL WHERE case_id = :c"), {"c": case})
    svc.advance(datetime(2026, 8, 1, tzinfo=PARIS))
    row = w.case_row(engine, case)
    assert row.format == 3
    podologie = w.timers(engine, case)["podologie"]
    # anchored on its pending firing (April 30) by the 1 → 2 upgrade: fires on the 30th
    assert podologie.anchor_at == datetime(2026, 4, 30, 10, 0, tzinfo=PARIS)
    assert podologie.fire_at == datetime(2026, 10, 30, 10, 0, tzinfo=PARIS)


def test_cases_not_migrated_keep_their_version_and_keep_working(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    other = svc.enroll(JEAN, w.KEY, T0).case_ids[0]          # in inclusion: can move
    version = w.case_row(engine, case).pathway_version_id
    w.publish(svc, RENAMED)
    report = migration.apply(engine, w.KEY, 2, LATER)         # no mapping: attente is gone
    assert report.migrated == 1 and [c for c, _ in report.refused] == [case]
    assert w.case_row(engine, case).pathway_version_id == version
    assert w.case_row(engine, other).pathway_version_id != version
    fire_at = w.timers(engine, case)["hba1c_due"].fire_at
    svc.advance(fire_at + timedelta(minutes=1))               # still runs on version 1
    assert "suivi.glycemie.dosage" in w.case_row(engine, case).active_states
    assert history(engine, case, Migrated.kind) == []


def test_a_case_that_moved_on_since_the_migration_is_not_moved_back(svc, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    case = w.enrol_in_suivi(svc, MARIE)
    w.publish(svc, w.variant(("title: Suivi d'exemple", "title: Suivi v2")))
    report = migration.apply(engine, w.KEY, 2, LATER)
    w.to_prevention(svc, case, LATER + timedelta(days=1))
    back = migration.rollback(engine, report.run or 0, LATER + timedelta(days=2))
    assert back.moved == 0 and back.refused[0][0] == case
    assert "évolué depuis la migration" in back.refused[0][1]
    assert "suivi.pieds.prevention" in w.case_row(engine, case).active_states
    with pytest.raises(InputError, match="migration inconnu\\(e\\) : 99"):
        migration.rollback(engine, 99, LATER)


def test_a_mapping_without_versions_and_a_task_both_created_and_entered(  # type: ignore[no-untyped-def]
        svc, engine: Engine, tmp_path: Path) -> None:
    case = w.enrol_in_suivi(svc, MARIE)
    w.publish(svc, ADDED_REGION)
    mapping = w.write(tmp_path, "m.yaml", "pathway: exemple-suivi\ncreate:\n"
                                          "  - {task: mesurer_tension, in: suivi.tension.mesure}\n")
    report = migration.apply(engine, w.KEY, 2, LATER, mapping_path=mapping)
    assert report.migrated == 1
    # the region's entry creates the task; the mapping's ``create`` does not add a second
    assert [t.key for t in w.tasks(engine, case)].count("mesurer_tension") == 1
