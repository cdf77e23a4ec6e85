"""Against a real SMTP server on loopback (aiosmtpd started by the test)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from engine.store.service import CaseService
from notifications import dispatch_pending
from notifications.channels import build_channels
from notifications.formatting import message_id, message_token
from notifications.outbox import retry_delay
from notifications.settings import NotificationSettings
from tests.notifications.conftest import CLAIRE, MORNING, outbox, set_preferences, settings, tasks
from tests.notifications.servers import SmtpSink

PAUL_MSSANTE = "paul.martin@medecin.mssante.fr"
ANNE_EMAIL = "anne.bernard@example.fr"


def smtp_settings(sink: SmtpSink, **values: object) -> NotificationSettings:
    return settings(mssante_url=f"mailto://127.0.0.1:{sink.port}?from=cpts@cpts.mssante.fr",
                    email_url=sink.url, **values)


def test_messages_arrive_with_recipients_subject_french_body_and_key(
        engine: Engine, world: CaseService, smtp: SmtpSink) -> None:
    durand_task = tasks(engine)[0]
    world.complete_task(durand_task.id, {}, MORNING, MORNING, event_id="done")  # → Anne
    config = smtp_settings(smtp)
    report = dispatch_pending(engine, config, MORNING)
    assert report.by_channel == {"mssante": {"sent": 1}, "email": {"sent": 1}}
    assert report.by_kind == {"task_assigned": {"sent": 2, "skipped": 1}}
    assert sorted(rcpts[0] for _, rcpts in smtp.envelopes) == [ANNE_EMAIL, PAUL_MSSANTE]
    rows = [r for r in outbox(engine) if r.status == "sent"]

    secure = smtp.to(PAUL_MSSANTE)[0]
    assert secure["From"] == "CPTS · Parcours <cpts@cpts.mssante.fr>"
    assert secure["To"] == f"Paul Martin <{PAUL_MSSANTE}>"
    assert secure["Subject"] == "Nouvelle tâche : Réaliser le bilan initial – M. Jean MOREAU"
    assert secure["Message-ID"].endswith("@cpts.mssante.fr>")
    body = secure.get_body(("plain",)).get_content()
    assert "M. Jean MOREAU, né le 01/07/1962" in body
    assert "À faire au plus tard le mardi 20 janvier 2026." in body
    assert "https://parcours.cpts.example/tasks/" in body
    html = secure.get_body(("html",)).get_content()
    assert "<strong>M. Jean MOREAU, né le 01/07/1962</strong>" in html
    assert secure["Auto-Submitted"] == "auto-generated"
    assert secure["Date"] == "Mon, 05 Jan 2026 09:00:00 +0000"

    plain = smtp.to(ANNE_EMAIL)[0]
    assert plain["To"] == f"Anne Bernard <{ANNE_EMAIL}>"
    assert plain["Subject"] == "Parcours : une nouvelle tâche vous attend"
    text = plain.get_body(("plain",)).get_content()
    assert "DURAND" not in text and "pieds" not in text and "aucune donnée de santé" in text
    assert plain["Message-ID"].endswith("@cpts.example.fr>")
    for message in smtp.messages:  # the key travels in the Message-ID and a header
        key = next(r.idempotency_key for r in rows
                   if message_token(r.idempotency_key) == message["Idempotency-Key"])
        domain = message["Message-ID"].rsplit("@", 1)[1].rstrip(">")
        assert message["Message-ID"] == message_id(key, domain)


def test_a_refused_recipient_is_dead_at_once_and_the_coordinator_is_told(
        engine: Engine, world: CaseService, smtp: SmtpSink) -> None:
    smtp.refuse[PAUL_MSSANTE] = "550 5.1.1 Mailbox unknown"
    set_preferences(engine, CLAIRE, {"channels": ["email"]})
    config = settings(mssante_url=smtp.url, email_url=smtp.url, default_channels=["mssante"])
    report = dispatch_pending(engine, config, MORNING)
    assert report.by_kind == {"task_assigned": {"dead": 2}, "delivery_failure": {"sent": 2}}
    dead = [r for r in outbox(engine) if r.status == "dead"]
    assert all(r.attempts == 1 and "550" in r.last_error for r in dead)
    notices = smtp.to("coordination@cpts.example.fr")
    assert len(notices) == 2 and "échec d'envoi" in notices[0]["Subject"]
    assert "Paul Martin" in notices[0].get_body(("plain",)).get_content()


def test_a_temporary_refusal_is_retried(engine: Engine, world: CaseService,
                                        smtp: SmtpSink) -> None:
    smtp.data_replies = ["451 4.3.0 Try again later"]
    config = settings(mssante_url=smtp.url)
    report = dispatch_pending(engine, config, MORNING)
    assert report.by_status == {"retry": 1, "sent": 1}
    retry = next(r for r in outbox(engine) if r.status == "pending")
    assert "451" in retry.last_error and retry.attempts == 1
    report = dispatch_pending(engine, config, retry.next_attempt_at)
    assert report.sent == 1 and len(smtp.messages) == 2


def test_smtp_down_for_a_while_then_every_message_once_on_the_backoff_schedule(
        engine: Engine, world: CaseService) -> None:
    """Connections refused for three attempts, then the server comes back."""
    sink = SmtpSink()  # not started: nothing listens on its port
    config = settings(mssante_url=sink.url, max_attempts=6, batch_size=1)
    now = MORNING
    for attempt in (1, 2, 3):
        report = dispatch_pending(engine, config, now)
        assert report.by_status == {"retry": 2}, report.as_dict()
        for row in outbox(engine):
            assert row.attempts == attempt and "connexion refusée" in row.last_error
            assert row.next_attempt_at == now + retry_delay(attempt, row.idempotency_key,
                                                            config)
        early = min(r.next_attempt_at for r in outbox(engine)) - timedelta(seconds=1)
        assert dispatch_pending(engine, config, early).claimed == 0
        now = max(r.next_attempt_at for r in outbox(engine))
    waits = [retry_delay(n, "k", config).total_seconds() for n in (1, 2, 3)]
    assert 60 <= waits[0] < 66 and 120 <= waits[1] < 132 and 240 <= waits[2] < 264
    sink.start()
    try:
        report = dispatch_pending(engine, config, now)
        assert report.by_status == {"sent": 2}
        assert dispatch_pending(engine, config, now + timedelta(days=1)).claimed == 0
    finally:
        sink.stop()
    ids = [m["Message-ID"] for m in sink.messages]
    assert len(ids) == len(set(ids)) == 2
    assert all(r.status == "sent" and r.attempts == 4 for r in outbox(engine))


def test_build_channels_from_settings(smtp: SmtpSink) -> None:
    channels = build_channels(smtp_settings(smtp))
    assert sorted(channels) == ["email", "mssante"]
    assert channels["mssante"].secure and not channels["email"].secure
    assert sorted(build_channels(settings(console=None))) == ["console"]
