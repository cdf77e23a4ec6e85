"""The case service on SQLite and PostgreSQL: each operation one transaction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.clock import end_of_day
from engine.store.db import transaction
from engine.store.exceptions import ConcurrentUpdateError, InputError, NotFoundError
from engine.store.tables import (
    CaseEvent,
    CaseRow,
    ObservationRow,
    OutboxRow,
    TaskRow,
    TimerRow,
)
from tests.db.world import T0, build

MARIE = "195031234567890"


def counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t))  # type: ignore[attr-defined]
                for t in (CaseRow, CaseEvent, ObservationRow, OutboxRow, TaskRow, TimerRow)}


def open_task(engine, key: str) -> TaskRow:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return s.scalars(select(TaskRow).where(TaskRow.key == key,
                                               TaskRow.status == "requested")).one()


def test_enrol_creates_case_task_and_outbox(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    result = svc.enroll(MARIE, "exemple-suivi", T0)
    assert result.case_ids == [1]
    task = open_task(engine, "bilan_initial")
    assert task.assignee_id == 1 and not task.unassigned_role
    # a delay in whole days ends with the last instant of that Paris calendar day
    assert task.due_at == end_of_day(T0 + timedelta(days=15))
    with transaction(engine) as s:
        outbox = s.scalars(select(OutboxRow)).all()
        assert [(o.kind, o.recipient_id, o.task_id) for o in outbox] == [
            ("task_assigned", 1, task.id)]
        assert s.scalars(select(CaseEvent.kind)).all() == ["enrolment", "task_created"]


def test_enrol_refuses_ineligible_and_duplicate(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    with pytest.raises(InputError, match="n'est pas éligible"):
        svc.enroll("P-003", "exemple-suivi", T0)  # born 2015, age_min 18
    svc.enroll(MARIE, "exemple-suivi", T0)
    with pytest.raises(InputError, match="a déjà le dossier ouvert 1"):
        svc.enroll(MARIE, "exemple-suivi", T0)
    with pytest.raises(NotFoundError, match="parcours inconnu"):
        svc.enroll(MARIE, "nope", T0)
    with pytest.raises(NotFoundError, match="patient inconnu"):
        svc.enroll("999999", "exemple-suivi", T0)


def test_unassigned_role_goes_to_coordinator(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll("P-002", "exemple-suivi", T0)  # nobody in the nurse role for P-002
    task = open_task(engine, "bilan_initial")
    svc.complete_task(task.id, {}, T0 + timedelta(days=2), T0 + timedelta(days=2))
    foot = open_task(engine, "examen_pieds")
    assert foot.unassigned_role and foot.assignee_id == 4  # the coordinator


def test_full_flow_observation_and_timers(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    day = T0 + timedelta(days=3)
    svc.complete_task(open_task(engine, "bilan_initial").id, {}, day, day)
    report = svc.advance(T0 + timedelta(days=120))
    assert report.cases == 1 and report.counts["timer_fired"] == 1
    assert svc.advance(T0 + timedelta(days=120)).cases == 0  # nothing due any more
    at = T0 + timedelta(days=121)
    svc.observe(MARIE, "4548-4", "7,9", "%", at, at)
    with transaction(engine) as s:
        case = s.get(CaseRow, 1)
        assert case.active_states == ["suivi.glycemie.revue", "suivi.pieds.examen"]
        assert case.facts["failures"] == 1
        assert s.scalar(select(ObservationRow.value)) == pytest.approx(7.9)
    assert open_task(engine, "revoir_traitement").role == "medecin_traitant"


@pytest.mark.parametrize(("value", "message"), [
    ("abc", "n'est pas un nombre|is not a number"),
    ("45", "impossible"),
    ("-1", "impossible"),
])
def test_bad_observation_values_write_nothing(engine, tmp_path: Path, value: str,
                                              message: str) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    before = counts(engine)
    with pytest.raises(InputError, match=message):
        svc.observe(MARIE, "hba1c", value, None, T0, T0)
    assert counts(engine) == before


def test_other_bad_inputs_write_nothing(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    before = counts(engine)
    with pytest.raises(InputError, match="dans le futur"):
        svc.observe(MARIE, "hba1c", "7", None, T0 + timedelta(days=1), T0)
    with pytest.raises(InputError, match=r"code d'observation inconnu '1234-5'.*4548-4"):
        svc.observe(MARIE, "1234-5", "7", None, T0, T0)
    with pytest.raises(NotFoundError, match="patient inconnu"):
        svc.observe("nobody", "hba1c", "7", None, T0, T0)
    with pytest.raises(NotFoundError, match="tâche inconnu"):
        svc.complete_task(999, {}, T0, T0)
    with pytest.raises(InputError, match="unité"):
        svc.observe(MARIE, "hba1c", "7", "kg", T0, T0)
    assert counts(engine) == before


def test_task_completion_rules(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    task = open_task(engine, "bilan_initial")
    svc.complete_task(task.id, {}, T0, T0)
    with pytest.raises(InputError, match="est terminée"):
        svc.complete_task(task.id, {}, T0, T0)
    foot = open_task(engine, "examen_pieds")
    before = counts(engine)
    with pytest.raises(InputError, match="grade"):
        svc.complete_task(foot.id, {"grade": 7}, T0, T0)
    with pytest.raises(InputError, match="champ"):
        svc.complete_task(foot.id, {"grde": 1}, T0, T0)
    assert counts(engine) == before
    svc.complete_task(foot.id, {"grade": "3"}, T0, T0)
    with transaction(engine) as s:
        assert s.get(CaseRow, 1).facts["foot_grade"] == 3


def test_event_on_closed_case_and_cancelled_task(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    task = open_task(engine, "bilan_initial")
    svc.close_case(1, "déménagement", T0 + timedelta(days=1))
    with transaction(engine) as s:
        assert s.get(TaskRow, task.id).status == "cancelled"
        kinds = [o.kind for o in s.scalars(select(OutboxRow).order_by(OutboxRow.id))]
        assert kinds == ["task_assigned", "task_cancelled"]
    before = counts(engine)
    with pytest.raises(InputError, match="est annulée"):
        svc.complete_task(task.id, {}, T0, T0 + timedelta(days=2))
    with pytest.raises(InputError, match="clos"):
        svc.pathway_event(1, "sortie_parcours", T0, T0 + timedelta(days=2),
                          data={"motif": "retrait"})
    assert counts(engine) == before


def test_same_event_id_twice_changes_nothing(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0, event_id="enrol-1")
    assert svc.enroll(MARIE, "exemple-suivi", T0, event_id="enrol-1").duplicate
    svc.observe(MARIE, "hba1c", "6.5", "%", T0, T0, event_id="lab-42")
    before = counts(engine)
    again = svc.observe(MARIE, "hba1c", "6.5", "%", T0, T0, event_id="lab-42")
    assert again.duplicate and counts(engine) == before


def test_concurrent_update_is_detected_and_retried(engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer bumps the row version between our read and our write: we retry."""
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    from engine.store import writer as writer_module

    original = writer_module.Writer._update_cases
    calls = {"n": 0}

    def interfering(self, *args):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:  # simulate a concurrent commit: the version moved
            for update in self.case_updates:
                update["b_version"] -= 1
        return original(self, *args)

    monkeypatch.setattr(writer_module.Writer, "_update_cases", interfering)
    task = open_task(engine, "bilan_initial")
    svc.complete_task(task.id, {}, T0, T0)
    assert calls["n"] == 2
    with transaction(engine) as s:
        case = s.get(CaseRow, 1)
        assert case.row_version == 3
        assert s.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.kind == "task_completed")) == 1


def test_conflict_error_when_retries_exhausted(engine, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    svc = build(engine, tmp_path)
    svc.settings.max_retries = 1
    svc.enroll(MARIE, "exemple-suivi", T0)
    from engine.store import writer as writer_module

    original = writer_module.Writer._update_cases

    def always(self, *args):  # type: ignore[no-untyped-def]
        for update in self.case_updates:
            update["b_version"] = -1
        return original(self, *args)

    monkeypatch.setattr(writer_module.Writer, "_update_cases", always)
    before = counts(engine)
    with pytest.raises(ConcurrentUpdateError):
        svc.complete_task(open_task(engine, "bilan_initial").id, {}, T0, T0)
    assert counts(engine) == before


def test_publish_versions(engine, tmp_path: Path) -> None:
    from tests.db.world import EXAMPLE

    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    text = EXAMPLE.read_text(encoding="utf-8")
    assert not svc.publish(text, "x.yaml", T0).created
    changed = text.replace("due: P15D\n    reminder", "due: P20D\n    reminder")
    published = svc.publish(changed, "x.yaml", T0)
    assert published.created and published.version == 2
    with transaction(engine) as s:
        assert s.get(CaseRow, 1).pathway_version_id == 1  # the running case stays on v1
    with pytest.raises(InputError, match="invalide, non publié"):
        svc.publish(text.replace("initial: inclusion", "initial: nulle_part"), "bad.yaml", T0)
