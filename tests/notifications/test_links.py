"""Every link of every rendered template points to a page the web workspace serves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from engine.pathway import load_file
from notifications import kinds, links
from notifications.context import build_context
from notifications.views import FailedView, MessageData, TaskView
from tests.notifications.test_render import (
    LINKS,
    NOW,
    PATHWAYS,
    PATIENT,
    RECIPIENT,
    RENDERER,
    _id,
    _messages,
)

URL = re.compile(r"https?://[^\s\"'<>)]+")
BASE = LINKS.base_url
PATIENT_WITH_ID = replace(PATIENT, id=42)


def _samples() -> Iterator[tuple[str, MessageData]]:
    """Every kind: each pathway's tasks and messages, a digest, failure reports."""
    for path in PATHWAYS:
        for name, data in _messages(load_file(path).definition):
            yield f"{_id(path)}-{name}", replace(data, patient=PATIENT_WITH_ID)
    task = TaskView(7, 1, "Examiner les pieds", "infirmier", "Infirmier", "requested",
                    NOW + timedelta(days=3), None, 4, "Anne Bernard")
    items = (MessageData(1, kinds.TASK_ASSIGNED, "a", NOW, RECIPIENT, task=task,
                         patient=PATIENT_WITH_ID),
             MessageData(2, kinds.PATHWAY_MESSAGE, "b", NOW, RECIPIENT, {"message": "m"},
                         patient=PATIENT_WITH_ID))
    for template in kinds.PATHWAY_TEMPLATES:
        yield template, MessageData(3, template, "c", NOW, RECIPIENT, {"message": "m"},
                                    patient=PATIENT_WITH_ID, pathway_title="P")
    yield "sign-in", MessageData(4, kinds.SIGN_IN_LINK, "s", NOW, RECIPIENT, {
        "link": links.sign_in_url(BASE, 3, "tok", "/tasks/7"), "minutes": 15})
    yield "declined", MessageData(5, kinds.TASK_DECLINED, "x", NOW, RECIPIENT,
                                  {"reason": "absent"}, task=task, patient=PATIENT_WITH_ID)
    yield "digest", MessageData(10, kinds.DAILY_DIGEST, "d", NOW, RECIPIENT, items=items)
    for task_id in (7, None):
        failed = FailedView(41, kinds.TASK_ASSIGNED, 6, "Anne Bernard", "email", "550",
                            task_id, 1)
        yield f"failure-task-{task_id}", MessageData(11, kinds.DELIVERY_FAILURE, "f", NOW,
                                                     RECIPIENT, failed=failed)


def _rendered(data: MessageData) -> Iterator[str]:
    for secure in (True, False):
        context = build_context(data, secure=secure, links=LINKS, now=NOW, sender="CPTS")
        body = RENDERER.email(data.kind, context)
        yield from (body.subject, body.text, body.html, RENDERER.sms(data.kind, context))


SAMPLES = list(_samples())


def test_the_samples_cover_every_kind() -> None:
    assert {kinds.template_of(d.kind) for _, d in SAMPLES} == set(kinds.TEMPLATES)


@pytest.mark.parametrize("data", [d for _, d in SAMPLES], ids=[n for n, _ in SAMPLES])
def test_every_link_is_a_workspace_page(data: MessageData) -> None:
    found = [url for part in _rendered(data) for url in URL.findall(part)]
    assert found, "a message without a link"
    for url in found:
        assert links.is_route(BASE, url), url
        path = url[len(BASE):]
        patterns = (*links.ROUTE_PATTERNS, links.SIGN_IN_PATTERN) \
            if data.kind == kinds.SIGN_IN_LINK else links.ROUTE_PATTERNS
        assert any(re.fullmatch(p, path) for p in patterns), url


@pytest.mark.parametrize(("data", "expected"), [
    (MessageData(1, kinds.TASK_ASSIGNED, "k", NOW, RECIPIENT,
                 task=TaskView(5, 1, "t", "r", "R", "requested", NOW)), "/tasks/5"),
    (MessageData(1, kinds.PATHWAY_MESSAGE, "k", NOW, RECIPIENT, patient=PATIENT_WITH_ID),
     "/patients/42"),
    (MessageData(1, kinds.PATHWAY_MESSAGE, "k", NOW, RECIPIENT, patient=PATIENT), "/"),
    (MessageData(1, kinds.DAILY_DIGEST, "k", NOW, RECIPIENT), "/"),
], ids=["task", "pathway-message", "no-patient-id", "digest"])
def test_what_each_message_points_to(data: MessageData, expected: str) -> None:
    assert LINKS.of(data) == BASE + expected


def test_the_link_functions() -> None:
    base = "https://cpts.example/parcours/"
    assert links.inbox_url(base) == "https://cpts.example/parcours/"
    assert links.task_url(base, 12) == "https://cpts.example/parcours/tasks/12"
    assert links.patient_url(base, 3) == "https://cpts.example/parcours/patients/3"
    url = links.sign_in_url(base, 7, "abc_DEF-1", "/tasks/12")
    assert url == ("https://cpts.example/parcours/connexion/lien?p=7&t=abc_DEF-1"
                   "&suite=%2Ftasks%2F12")
    assert links.is_route(base, url) and links.is_route(base, links.task_url(base, 1))
    assert not links.is_route(base, "https://cpts.example/parcours/cases/1")
    assert not links.is_route(base, "https://evil.example/tasks/1")
    with pytest.raises(ValueError, match="local path"):
        links.sign_in_url(base, 7, "t", "https://evil.example/")
    with pytest.raises(ValueError, match="local path"):
        links.sign_in_url(base, 7, "t", "//evil.example/")
