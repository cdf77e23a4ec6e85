"""Against a real HTTP receiver on loopback: webhooks and an SMS gateway through Apprise."""

from __future__ import annotations

from sqlalchemy import Engine

from engine.store.service import CaseService
from notifications import dispatch_pending
from notifications.formatting import message_token
from tests.notifications.conftest import MORNING, PAUL, outbox, set_preferences, settings
from tests.notifications.servers import WebhookSink


def test_webhooks_carry_the_idempotency_key_and_no_health_data(
        engine: Engine, world: CaseService, webhook: WebhookSink) -> None:
    set_preferences(engine, PAUL, {"channels": ["webhook"]})
    config = settings(webhook_url=webhook.url("/parcours?-source=cpts"))
    report = dispatch_pending(engine, config, MORNING)
    assert report.by_channel == {"webhook": {"sent": 2}}
    keys = {message_token(r.idempotency_key) for r in outbox(engine)}
    assert {r["headers"]["Idempotency-Key"] for r in webhook.requests} == keys
    for request in webhook.requests:
        body = request["body"]
        assert request["path"] == "/parcours?source=cpts"
        assert body["idempotency_key"] == request["headers"]["Idempotency-Key"]
        assert body["recipient"] == PAUL and body["kind"] == "task_assigned"
        assert body["title"] == "Parcours : une nouvelle tâche vous attend"
        assert "Une nouvelle tâche vous attend dans Parcours" in body["message"]
        assert "DURAND" not in body["message"] and "MOREAU" not in body["message"]


def test_a_secure_webhook_may_carry_patient_details(engine: Engine, world: CaseService,
                                                    webhook: WebhookSink) -> None:
    set_preferences(engine, PAUL, {"channels": ["webhook"]})
    config = settings(webhook_url=webhook.url(), webhook_secure=True)
    dispatch_pending(engine, config, MORNING)
    assert any("Mme Marie DURAND" in r["body"]["message"] for r in webhook.requests)


def test_http_errors_retry_or_fail_by_status(engine: Engine, world: CaseService,
                                             webhook: WebhookSink) -> None:
    set_preferences(engine, PAUL, {"channels": ["webhook"]})
    config = settings(webhook_url=webhook.url(), batch_size=1)
    webhook.statuses = [503]
    report = dispatch_pending(engine, config, MORNING)
    # 503 says the endpoint is down: the second message is not even tried in this run
    assert report.by_status == {"retry": 2} and len(webhook.requests) == 1
    first = outbox(engine)[0]
    assert "HTTP 503" in first.last_error
    webhook.statuses = [400]
    report = dispatch_pending(engine, config, max(r.next_attempt_at for r in outbox(engine)))
    assert report.by_kind["task_assigned"] == {"dead": 1, "sent": 1}
    dead = next(r for r in outbox(engine) if r.status == "dead")
    assert "HTTP 400" in dead.last_error and dead.attempts == 2


def test_an_unreachable_endpoint_is_retried(engine: Engine, world: CaseService) -> None:
    sink = WebhookSink()  # bound, never started: closing it frees the port
    url = sink.url()
    sink.server.server_close()
    set_preferences(engine, PAUL, {"channels": ["webhook"]})
    report = dispatch_pending(engine, settings(webhook_url=url), MORNING)
    assert report.by_status == {"retry": 2}
    assert "connexion impossible" in outbox(engine)[0].last_error


def test_sms_through_a_json_gateway(engine: Engine, world: CaseService,
                                    webhook: WebhookSink) -> None:
    set_preferences(engine, PAUL, {"channels": ["sms"]})
    config = settings(sms_url=webhook.url("/sms") + "?:to={phone}")
    report = dispatch_pending(engine, config, MORNING)
    assert report.by_channel == {"sms": {"sent": 2}}
    for request in webhook.requests:
        body = request["body"]
        assert body["to"] == "+33611223344" and body["title"] == ""
        assert body["message"].startswith("Parcours : une nouvelle tâche vous attend, à faire "
                                          "au plus tard le 20/01/2026. https://parcours.cpts.example/")
        assert len(body["message"]) <= 160 and "DURAND" not in body["message"]
        assert request["headers"]["Idempotency-Key"] == body["idempotency_key"]
