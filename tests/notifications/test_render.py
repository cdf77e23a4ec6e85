"""Every template, for every task and message of every pathway, both secure and not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest

from engine.pathway import load_file
from engine.pathway.model import Actions, Pathway, State
from flows.commands.authoring import pathway_files
from notifications import kinds
from notifications.context import build_context
from notifications.exceptions import TemplateRenderError
from notifications.formatting import date_fr, datetime_fr
from notifications.links import Links
from notifications.render import BUILTIN, Renderer
from notifications.views import FailedView, MessageData, PatientView, RecipientView, TaskView

ROOT = Path(__file__).resolve().parents[2]
PATHWAYS = sorted({*pathway_files([str(ROOT / "pathways")]),
                   str(ROOT / "pathways" / "examples" / "exemple-suivi.yaml")})
NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # Monday 2 March 2026, 09:30 in Paris
PATIENT = PatientView("Quattrocchi", "Zéphyrine", date(1941, 2, 17), "F")
RECIPIENT = RecipientView(3, "Martin", "Paul", "medecin", "10000000001", "p@example.fr")
RENDERER = Renderer()
LINKS = Links("https://parcours.cpts.example")


def _id(path: str) -> str:
    return Path(path).stem


def _notifies(state: State) -> Iterator[tuple[str, str]]:
    blocks: list[Actions | Any] = [state.on_enter, *state.transitions]
    for block in blocks:
        for notify in (block.notify if block is not None else []):
            yield notify.template, notify.message
    for child in state.states.values():
        yield from _notifies(child)


def _messages(pathway: Pathway) -> Iterator[tuple[str, MessageData]]:
    """Sample data for every task kind of every task, and every pathway message."""
    for n, (key, task) in enumerate(pathway.tasks.items(), start=1):
        role = pathway.roles[task.role].title if task.role in pathway.roles else task.role
        view = TaskView(n, 1, task.title, task.role, role, "requested",
                        NOW + timedelta(days=15), task.description, 3, "Paul Martin",
                        n % 2 == 0, pathway.title)
        for kind in kinds.TASK_KINDS:
            yield f"{kind}:{key}", MessageData(
                n, kind, f"task:{n}:{kind}", NOW, RECIPIENT, {"reason": "case closed"},
                1, view, PATIENT, pathway.title)
    for n, (template, message) in enumerate(
            [s for state in pathway.states.values() for s in _notifies(state)], start=1):
        yield f"{template}:{n}", MessageData(n, template, f"case:{n}", NOW, RECIPIENT,
                                             {"message": message, "role": "x"}, 1, None,
                                             PATIENT, pathway.title, "Infirmier")


def _cases() -> Iterator[Any]:
    for path in PATHWAYS:
        pathway = load_file(path).definition
        for name, data in _messages(pathway):
            yield pytest.param(data, pathway, id=f"{_id(path)}-{name}")


def _render_all(data: MessageData, secure: bool) -> tuple[str, str, str, str]:
    context = build_context(data, secure=secure, links=LINKS, now=NOW, sender="CPTS")
    body = RENDERER.email(data.kind, context)
    return body.subject, body.text, body.html, RENDERER.sms(data.kind, context)


@pytest.mark.parametrize(("data", "pathway"), list(_cases()))
def test_every_template_renders_for_every_pathway_task(data: MessageData,
                                                       pathway: Pathway) -> None:
    subject, text, html, sms = _render_all(data, secure=True)
    assert subject and text.startswith("Bonjour Paul Martin,") and "<html" in html
    assert "Mme Zéphyrine QUATTROCCHI, née le 17/02/1941" in text
    assert LINKS.base_url in text and LINKS.base_url in html and LINKS.base_url in sms
    if data.task is not None:
        assert data.task.title in text
        if data.kind != kinds.TASK_CANCELLED:
            assert "mardi 17 mars 2026" in text      # the due date, in French, Paris time
    else:
        assert data.payload["message"] in text


@pytest.mark.parametrize(("data", "pathway"), list(_cases()))
def test_messages_that_are_not_secure_carry_no_health_data(data: MessageData,
                                                           pathway: Pathway) -> None:
    for part in _render_all(data, secure=False):
        for secret in ("Quattrocchi", "QUATTROCCHI", "Zéphyrine", "17/02/1941", "1941",
                       pathway.title):
            assert secret not in part
        if data.task is not None:
            assert data.task.title not in part
            if data.task.description:
                assert data.task.description not in part
        else:
            assert data.payload["message"] not in part


@pytest.mark.parametrize("kind", kinds.TEMPLATES)
def test_sms_are_short_and_plain(kind: str) -> None:
    task = TaskView(123456, 1, "t", "r", "R", "requested", NOW, None, 3, "Paul Martin")
    failed = FailedView(987654, kinds.TASK_ASSIGNED, 6, "Anne Bernard", "email", "550")
    data = MessageData(1, kind, "k", NOW, RECIPIENT, {"message": "m"}, 1, task, PATIENT,
                       items=(MessageData(2, kinds.TASK_ASSIGNED, "k2", NOW, RECIPIENT,
                                          task=task),), failed=failed)
    context = build_context(data, secure=False, links=LINKS, now=NOW, sender="CPTS")
    sms = RENDERER.sms(kind, context)
    assert len(sms) <= 160, sms
    assert "\n" not in sms and sms.startswith("Parcours")


def test_digest_and_failure_report_render_both_ways() -> None:
    task = TaskView(7, 1, "Examiner les pieds", "infirmier", "Infirmier", "requested",
                    NOW + timedelta(days=3), None, 4, "Anne Bernard")
    items = tuple(MessageData(i, kind, f"k{i}", NOW, RECIPIENT, {"message": "Sortie"}, 1,
                              task if kind != kinds.PATHWAY_MESSAGE else None, PATIENT, "P")
                  for i, kind in enumerate([kinds.TASK_ASSIGNED, kinds.TASK_REMINDER,
                                            kinds.PATHWAY_MESSAGE]))
    digest = MessageData(10, kinds.DAILY_DIGEST, "d", NOW, RECIPIENT, items=items)
    secure = _render_all(digest, True)
    assert "récapitulatif du 02/03/2026 (3 notifications)" in secure[0]
    assert secure[1].count("Mme Zéphyrine QUATTROCCHI") == 3 and "Examiner les pieds" in secure[1]
    assert "Examiner les pieds" not in "".join(_render_all(digest, False))
    failed = FailedView(41, kinds.TASK_ASSIGNED, 6, "Anne Bernard", "email",
                        "refus définitif du serveur : 550 unknown user", 7, 1)
    report = MessageData(11, kinds.DELIVERY_FAILURE, "f", NOW, RECIPIENT, failed=failed)
    subject, text, _, sms = _render_all(report, True)
    assert "n° 41" in subject and "Anne Bernard" in text and "550 unknown user" in text
    assert "https://parcours.cpts.example/tasks/7" in sms  # the task the failed row was about
    assert "550" not in _render_all(report, False)[1]


def test_html_is_escaped_and_text_is_not() -> None:
    data = MessageData(1, kinds.PATHWAY_MESSAGE, "k", NOW, RECIPIENT,
                       {"message": "<script>alert('x')</script> & co"}, 1, None, PATIENT, "P")
    _, text, html, _ = _render_all(data, secure=True)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; co" in html
    assert "<script>alert('x')</script> & co" in text


def test_unknown_pathway_templates_fall_back_to_the_pathway_message() -> None:
    data = MessageData(1, "alerte_maison", "k", NOW, RECIPIENT, {"message": "Bonjour"}, 1,
                       None, PATIENT, "P")
    assert "Bonjour" in _render_all(data, secure=True)[1]
    assert kinds.template_of("hospital_admission") == "hospital_admission"
    assert "Hospitalisation" in _render_all(
        MessageData(1, kinds.HOSPITAL_ADMISSION, "k", NOW, RECIPIENT, {"message": "m"}, 1,
                    None, PATIENT, "P"), secure=True)[0]


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ recipient.__class__ }}",
    "{{ cycler.__init__.__globals__.os.system('id') }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ now.__class__.__mro__ }}",
    "{% set x = recipient.update({'name': 'pirate'}) %}{{ x }}",
    "{{ items.append(1) }}",
])
def test_templates_cannot_reach_python_internals(source: str) -> None:
    context = {"recipient": {"name": "Paul"}, "now": NOW, "items": []}
    with pytest.raises(TemplateRenderError, match=r"bac à sable|non défini|interdite"):
        RENDERER.render_string(source, context)


def test_a_misspelt_name_fails_instead_of_printing_nothing() -> None:
    with pytest.raises(TemplateRenderError, match=r"non défini.*recipent"):
        RENDERER.render_string("Bonjour {{ recipent.name }}", {"recipient": {"name": "P"}})
    with pytest.raises(TemplateRenderError, match="clinical"):
        RENDERER.render_string("{{ clinical.patient.name }}", {"secure": False})


def test_a_cpts_can_override_a_template_in_its_own_folder(tmp_path: Path) -> None:
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "task_assigned.txt").write_text(
        "CPTS du Doubs : tâche à faire. {{ link }}", encoding="utf-8")
    renderer = Renderer(tmp_path)
    task = TaskView(5, 1, "t", "r", "R", "requested", NOW)
    data = MessageData(1, kinds.TASK_ASSIGNED, "k", NOW, RECIPIENT, task=task)
    context = build_context(data, secure=False, links=LINKS, now=NOW, sender="CPTS")
    assert renderer.sms(kinds.TASK_ASSIGNED, context) == \
        "CPTS du Doubs : tâche à faire. https://parcours.cpts.example/tasks/5"
    assert renderer.email(kinds.TASK_ASSIGNED, context).subject  # built-ins still there


def test_builtin_templates_exist_for_every_kind() -> None:
    for kind in kinds.TEMPLATES:
        for name in (f"email/{kind}.txt", f"email/{kind}.html", f"sms/{kind}.txt"):
            assert (BUILTIN / name).is_file(), name


def test_templates_are_strict_sandboxed_and_escape_html() -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = RENDERER.env
    assert isinstance(env, ImmutableSandboxedEnvironment)
    assert env.undefined is jinja2.StrictUndefined
    assert env.autoescape("email/x.html") is True and env.autoescape("email/x.txt") is False


@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2026, 3, 29, 7, 30, tzinfo=UTC), "dimanche 29 mars 2026 à 09:30"),  # CEST
    (datetime(2026, 1, 1, 7, 0, tzinfo=UTC), "jeudi 1er janvier 2026 à 08:00"),   # CET
    (datetime(2026, 8, 15, 22, 5, tzinfo=UTC), "dimanche 16 août 2026 à 00:05"),
])
def test_dates_are_french_in_paris_time(moment: datetime, expected: str) -> None:
    assert datetime_fr(moment) == expected
    assert date_fr(moment) == expected.split(" à ")[0]
