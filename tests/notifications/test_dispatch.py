"""The dispatcher on SQLite and PostgreSQL, with in-memory channels and an injected clock."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, update

from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import OutboxRow, Professional, TaskRow
from notifications import dispatch_pending, queue_daily_digests
from notifications.channels import MemoryChannel
from notifications.exceptions import PermanentDeliveryError, TransientDeliveryError
from notifications.outbox import retry_delay
from tests.notifications.conftest import (
    CLAIRE,
    MORNING,
    PAUL,
    outbox,
    pro_id,
    set_preferences,
    settings,
    tasks,
)


def channels(**failures: Any) -> dict[str, MemoryChannel]:
    return {"mssante": MemoryChannel("mssante", secure=True, field="mssante",
                                     fail_when=failures.get("mssante")),
            "email": MemoryChannel("email", field="email", fail_when=failures.get("email")),
            "sms": MemoryChannel("sms", medium="sms", field="phone",
                                 fail_when=failures.get("sms"))}


def by_kind(engine: Engine, kind: str) -> list[OutboxRow]:
    return [r for r in outbox(engine) if r.kind == kind]


def test_assigned_tasks_go_once_on_the_first_preferred_channel(engine: Engine,
                                                                world: CaseService) -> None:
    sinks = channels()
    report = dispatch_pending(engine, settings(), MORNING, batch_size=1, channels=sinks)
    assert report.sent == 2 and report.batches == 2
    assert report.by_kind == {"task_assigned": {"sent": 2}}
    assert report.by_channel == {"mssante": {"sent": 2}}
    sent = sinks["mssante"].sent
    assert {m.address for m in sent} == {"paul.martin@medecin.mssante.fr"}
    assert "Mme Marie DURAND" in sent[0].text and "Réaliser le bilan initial" in sent[0].subject
    assert [r.status for r in outbox(engine)] == ["sent", "sent"]
    assert all(r.channel == "mssante" and r.sent_at == MORNING and r.attempts == 1
               for r in outbox(engine))
    again = dispatch_pending(engine, settings(), MORNING + timedelta(hours=1), channels=sinks)
    assert again.claimed == 0 and len(sinks["mssante"].sent) == 2


def test_the_report_holds_counts_and_ids_only(engine: Engine, world: CaseService) -> None:
    fail = PermanentDeliveryError("mssante", "refus définitif du serveur : 550 Durand")
    report = dispatch_pending(engine, settings(default_channels=["mssante"]), MORNING,
                              channels=channels(mssante=lambda m: fail))
    text = json.dumps(report.as_dict(), ensure_ascii=False)
    for secret in ("Durand", "DURAND", "Marie", "Martin", "bilan", "@", "1950"):
        assert secret not in text
    # the coordinator's two notices fail too (she has no MSSanté address): no notice of those
    assert report.failed_ids == [1, 2, 3, 4] and len(by_kind(engine, "delivery_failure")) == 2
    assert report.table()[0] == {"kind": "delivery_failure", "status": "dead", "count": 2}


def test_a_task_closed_before_its_message_left_is_not_sent(engine: Engine,
                                                           world: CaseService) -> None:
    first = tasks(engine)[0]
    world.complete_task(first.id, {}, MORNING, MORNING, event_id="done-1")
    sinks = channels()
    report = dispatch_pending(engine, settings(), MORNING, channels=sinks)
    assert report.by_status == {"skipped": 1, "sent": 2}  # + the nurse's new task
    skipped = [r for r in outbox(engine) if r.status == "skipped"]
    assert skipped[0].task_id == first.id and "close (completed)" in skipped[0].last_error
    assert first.id not in {int(m.text.split("/tasks/")[1].split()[0])
                            for m in sinks["mssante"].sent + sinks["email"].sent}


def test_cancellations_reach_only_those_who_were_told(engine: Engine,
                                                      world: CaseService) -> None:
    sinks = channels()
    dispatch_pending(engine, settings(), MORNING, channels=sinks)     # both assignments sent
    world.close_case(1, "déménagement", MORNING + timedelta(hours=1))
    world.close_case(2, "déménagement", MORNING + timedelta(hours=1))
    report = dispatch_pending(engine, settings(), MORNING + timedelta(hours=2), channels=sinks)
    assert report.by_kind == {"task_cancelled": {"sent": 2}}
    assert "annulée" in sinks["mssante"].sent[-1].subject


def test_cancelled_before_the_first_dispatch_nothing_is_sent(engine: Engine,
                                                             world: CaseService) -> None:
    world.close_case(1, "décès", MORNING)
    report = dispatch_pending(engine, settings(), MORNING, channels=channels())
    assert report.by_kind == {"task_assigned": {"skipped": 1, "sent": 1},
                              "task_cancelled": {"skipped": 1}}


def test_passing_failures_are_retried_with_backoff_then_dead_lettered(
        engine: Engine, world: CaseService) -> None:
    config = settings(default_channels=["mssante"], max_attempts=3)
    set_preferences(engine, CLAIRE, {"channels": ["email"]})
    down = TransientDeliveryError("mssante", "connexion refusée")
    sinks = channels(mssante=lambda m: down)
    now = MORNING
    for attempt in (1, 2):
        report = dispatch_pending(engine, config, now, channels=sinks)
        assert report.by_status == {"retry": 2}
        rows = by_kind(engine, "task_assigned")
        for row in rows:
            assert row.status == "pending" and row.attempts == attempt
            assert row.next_attempt_at == now + retry_delay(attempt, row.idempotency_key, config)
            assert "connexion refusée" in row.last_error
        assert len(sinks["mssante"].attempts) == attempt  # channel down: 1 try per run
        assert dispatch_pending(engine, config, now + timedelta(seconds=59),
                                channels=sinks).claimed == 0
        now = max(r.next_attempt_at for r in rows)
    report = dispatch_pending(engine, config, now, channels=sinks)
    assert report.by_kind == {"task_assigned": {"dead": 2}, "delivery_failure": {"sent": 2}}
    assert sorted(report.failed_ids) == [1, 2]
    notices = by_kind(engine, "delivery_failure")
    assert {r.recipient_id for r in notices} == {pro_id(engine, CLAIRE)}
    assert {r.payload["failed_id"] for r in notices} == {1, 2}
    assert "abandon après 3 tentative(s)" in by_kind(engine, "task_assigned")[0].last_error


def test_the_coordinator_hears_of_a_failure_on_another_channel(engine: Engine,
                                                               world: CaseService) -> None:
    refused = PermanentDeliveryError("mssante", "refus définitif du serveur : 550", 550)
    sinks = channels(mssante=lambda m: refused if "mssante" in m.address else None)
    config = settings(default_channels=["mssante"])
    set_preferences(engine, CLAIRE, {"channels": ["mssante", "email"]})
    report = dispatch_pending(engine, config, MORNING, channels=sinks)
    # permanent: dead at the first attempt; the two notices go to Claire by e-mail (she has
    # no MSSanté address) in the same run
    assert report.by_kind == {"task_assigned": {"dead": 2}, "delivery_failure": {"sent": 2}}
    notice = sinks["email"].sent[0]
    assert notice.address == "coordination@cpts.example.fr"
    assert "Paul Martin" in notice.text and "n° 1" in notice.subject
    assert "DURAND" not in notice.text  # ordinary e-mail: no patient data
    assert [r.attempts for r in by_kind(engine, "task_assigned")] == [1, 1]


def test_a_permanent_failure_falls_back_to_the_next_channel(engine: Engine,
                                                            world: CaseService) -> None:
    refused = PermanentDeliveryError("mssante", "adresse invalide", 550)
    sinks = channels(mssante=lambda m: refused)
    report = dispatch_pending(engine, settings(), MORNING, channels=sinks)
    assert report.by_channel == {"email": {"sent": 2}}
    assert "DURAND" not in sinks["email"].sent[0].text  # rendered again, for e-mail


def test_no_usable_channel_and_inactive_professionals_are_dead_letters(
        engine: Engine, world: CaseService) -> None:
    set_preferences(engine, PAUL, {"channels": ["webhook"]})
    report = dispatch_pending(engine, settings(), MORNING, channels=channels())
    assert report.by_kind["task_assigned"] == {"dead": 2}
    assert "aucun canal utilisable" in by_kind(engine, "task_assigned")[0].last_error
    with transaction(engine) as s:
        s.execute(update(Professional).where(Professional.rpps == CLAIRE).values(active=False))
        s.execute(update(OutboxRow).values(status="pending", next_attempt_at=MORNING))
    report = dispatch_pending(engine, settings(), MORNING, channels=channels())
    assert report.by_status["dead"] == 4


def test_sms_waits_for_the_end_of_quiet_hours(engine: Engine, world: CaseService) -> None:
    set_preferences(engine, PAUL, {"channels": ["sms"]})
    saturday_night = MORNING.replace(day=10, hour=21)  # Saturday 22:00 in Paris
    _due(engine, saturday_night)
    sinks = channels()
    report = dispatch_pending(engine, settings(), saturday_night, channels=sinks)
    assert report.by_status == {"deferred": 2} and not sinks["sms"].attempts
    monday_8 = MORNING.replace(day=12, hour=7)          # Monday 08:00 in Paris
    for row in by_kind(engine, "task_assigned"):
        assert (row.status, row.next_attempt_at, row.attempts) == ("pending", monday_8, 0)
        assert "heures de silence" in row.last_error
    assert dispatch_pending(engine, settings(), monday_8 - timedelta(minutes=1),
                            channels=sinks).claimed == 0
    report = dispatch_pending(engine, settings(), monday_8, channels=sinks)
    assert report.by_channel == {"sms": {"sent": 2}}
    assert sinks["sms"].sent[0].address == "0611223344" and not sinks["sms"].sent[0].html
    assert "DURAND" not in sinks["sms"].sent[0].text


def test_in_quiet_hours_another_open_channel_is_used(engine: Engine,
                                                     world: CaseService) -> None:
    set_preferences(engine, PAUL, {"channels": ["sms", "email"]})
    night = MORNING.replace(hour=22)
    _due(engine, night)
    report = dispatch_pending(engine, settings(), night, channels=channels())
    assert report.by_channel == {"email": {"sent": 2}}


def test_digest_mode_holds_messages_then_sends_one_digest(engine: Engine,
                                                          world: CaseService) -> None:
    set_preferences(engine, PAUL, {"mode": "digest"})
    sinks = channels()
    report = dispatch_pending(engine, settings(), MORNING, channels=sinks)
    assert report.by_status == {"held": 2} and not sinks["mssante"].sent
    assert [(r.status, r.attempts) for r in outbox(engine)] == [("digest", 0)] * 2
    evening = MORNING + timedelta(hours=10)      # held after today's 07:30: tomorrow's digest
    assert queue_daily_digests(engine, evening, settings=settings()).digests == 0
    tomorrow = MORNING + timedelta(days=1)       # Tuesday 10:00 in Paris
    queued = queue_daily_digests(engine, tomorrow, settings=settings())
    assert (queued.digests, queued.items) == (1, 2)
    assert queue_daily_digests(engine, tomorrow + timedelta(hours=1),
                               settings=settings()).digests == 0  # one a day
    report = dispatch_pending(engine, settings(), tomorrow, channels=sinks)
    assert report.by_kind == {"daily_digest": {"sent": 1}}
    digest = sinks["mssante"].sent[0]
    assert "(2 notifications)" in digest.subject
    assert "Mme Marie DURAND" in digest.text and "M. Jean MOREAU" in digest.text
    assert [r.status for r in outbox(engine)] == ["digested", "digested", "sent"]


def test_digest_leaves_out_tasks_closed_since(engine: Engine, world: CaseService) -> None:
    set_preferences(engine, PAUL, {"mode": "digest"})
    dispatch_pending(engine, settings(), MORNING, channels=channels())
    for task in tasks(engine):
        world.close_case(task.case_id, "retrait", MORNING + timedelta(hours=1))
    dispatch_pending(engine, settings(), MORNING + timedelta(hours=1), channels=channels())
    tomorrow = MORNING + timedelta(days=1)
    queue_daily_digests(engine, tomorrow, settings=settings())
    sinks = channels()
    report = dispatch_pending(engine, settings(), tomorrow, channels=sinks)
    assert report.by_kind == {"daily_digest": {"skipped": 1}} and not sinks["mssante"].sent


def test_invalid_preferences_fall_back_to_the_defaults(engine: Engine,
                                                       world: CaseService) -> None:
    set_preferences(engine, PAUL, {"channels": "sms"})
    report = dispatch_pending(engine, settings(), MORNING, channels=channels())
    assert report.by_channel == {"mssante": {"sent": 2}}
    assert report.warnings == {"invalid_preferences": 2}


def test_reminders_and_escalations_from_the_flows(engine: Engine, world: CaseService) -> None:
    first, second = tasks(engine)
    world.complete_task(second.id, {}, MORNING, MORNING, event_id="done-2")
    paul, claire = pro_id(engine, PAUL), pro_id(engine, CLAIRE)
    late = first.due_at + timedelta(days=3)
    with transaction(engine) as s:
        s.execute(update(OutboxRow).values(status="sent"))
        s.execute(insert(OutboxRow), [
            _row("task_reminder", f"task:{first.id}:reminder:{paul}", first, paul, late),
            _row("task_reminder", f"task:{second.id}:reminder:{paul}", second, paul, late),
            _row("task_overdue", f"task:{first.id}:overdue:{claire}", None, claire, late,
                 {"task_id": first.id}, case_id=first.case_id)])
    sinks = channels()
    report = dispatch_pending(engine, settings(), late, channels=sinks)
    assert report.by_kind == {"task_reminder": {"sent": 1, "skipped": 1},
                              "task_overdue": {"sent": 1}}
    reminder = sinks["mssante"].sent[0]
    assert reminder.subject.startswith("Rappel : Réaliser le bilan initial")
    overdue = sinks["email"].sent[0]
    assert overdue.address == "coordination@cpts.example.fr"
    assert "en retard (3 j)" in overdue.subject and "Confiée à : Paul Martin" in overdue.text


def test_two_dispatchers_at_once_send_each_message_once(engine: Engine,
                                                        world: CaseService) -> None:
    paul = pro_id(engine, PAUL)
    with transaction(engine) as s:
        s.execute(insert(OutboxRow), [_row("pathway_message", f"bulk:{n}", None, paul, MORNING,
                                           {"message": f"n{n}", "role": "medecin_traitant"},
                                           case_id=1) for n in range(300)])
    sinks = [channels(), channels()]
    threads = [threading.Thread(target=dispatch_pending, args=(engine, settings(), MORNING),
                                kwargs={"batch_size": 20, "channels": c}) for c in sinks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [m.idempotency_key for c in sinks for m in c["mssante"].sent]
    assert len(keys) == len(set(keys)) == 302
    assert {r.status for r in outbox(engine)} == {"sent"}


def _due(engine: Engine, moment: Any) -> None:
    with transaction(engine) as s:
        s.execute(update(OutboxRow).values(next_attempt_at=moment))


def _row(kind: str, key: str, task: TaskRow | None, recipient: int, at: Any,
         payload: dict[str, Any] | None = None, case_id: int | None = None) -> dict[str, Any]:
    return {"idempotency_key": key, "kind": kind, "case_id": task.case_id if task else case_id,
            "task_id": task.id if task else None, "recipient_id": recipient,
            "payload": payload or {}, "status": "pending", "attempts": 0, "created_at": at,
            "next_attempt_at": at}


def test_an_unexpected_error_stays_with_its_row(engine: Engine, world: CaseService) -> None:
    def boom(message: Any) -> None:
        if "Mme Marie DURAND" in message.text:
            raise KeyError("Mme Marie DURAND")  # a bug, quoting personal data
    report = dispatch_pending(engine, settings(), MORNING,
                              channels={"mssante": MemoryChannel("mssante", secure=True,
                                                                 field="mssante",
                                                                 fail_when=boom)})
    assert report.by_kind["task_assigned"] == {"dead": 1, "sent": 1}
    dead = next(r for r in outbox(engine) if r.status == "dead")
    assert dead.last_error == "erreur interne (KeyError)"


def test_a_row_claimed_too_often_without_result_is_given_up(engine: Engine,
                                                            world: CaseService) -> None:
    with transaction(engine) as s:   # as if dispatchers had died with it, lease after lease
        s.execute(update(OutboxRow).where(OutboxRow.id == 1).values(status="sending",
                                                                    attempts=4))
    report = dispatch_pending(engine, settings(max_attempts=4), MORNING, channels=channels())
    assert report.by_kind["task_assigned"] == {"dead": 1, "sent": 1}
    assert "4 envoi(s) interrompu(s)" in outbox(engine)[0].last_error
