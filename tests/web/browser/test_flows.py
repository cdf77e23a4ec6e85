"""What professionals do, clicked through in Chromium: message → link → sign-in → task.

Each flow runs on SQLite and PostgreSQL (``site``) and on a desktop and a phone-sized
viewport (``viewport``). The link followed is the one in the message the professional
received (an outbox row rendered and sent by ``notifications``); the sign-in link is the
one the app sends when the professional asks for it on the sign-in page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from notifications import kinds
from tests.web.browser.conftest import Site
from tests.web.browser.world import (
    COORDINATOR,
    GP,
    MSSANTE,
    NURSE,
    PHARMACIST,
    WEIGHT,
    Person,
)

pytestmark = pytest.mark.browser


def sign_in_from_message(page: Page, site: Site, person: Person, link: str) -> None:
    """Follow ``link`` signed out, ask for a one-time link, follow it, confirm."""
    world = site.world
    assert link.startswith(site.url + "/"), link
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/connexion\?suite="))
    before = len(world.messages_to(person))
    page.get_by_label("Adresse e-mail ou MSSanté").fill(person.address)
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("status")).to_contain_text("Si cette adresse est connue")
    assert len(world.messages_to(person)) == before + 1, "no sign-in message was sent"
    page.goto(world.sign_in_link(person))
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(link)


def assert_fits(page: Page) -> None:
    """Nothing wider than the screen (no sideways scrolling on a phone), once the style sheet
    has loaded (before it, a select is as wide as its longest option)."""
    page.wait_for_load_state("load")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    culprits = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > document.documentElement.clientWidth + 1).slice(0, 5).map(e => e.tagName + '.' +"
        " e.className + '#' + e.id)")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen: {culprits}"


def test_gp_completes_the_foot_exam_and_sees_the_next_step(page: Page, site: Site) -> None:
    world = site.world
    patient, task = world.diabetic_with_foot_exam()
    sign_in_from_message(page, site, GP, world.task_link(GP, task))

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Examiner les pieds (monofilament) et grader le risque podologique")
    assert_fits(page)
    page.get_by_label("Grade de risque podologique").fill("2")
    page.get_by_role("button", name="Terminer la tâche").click()

    done = page.get_by_role("status")
    expect(done).to_contain_text("Tâche terminée")
    expect(done).to_contain_text("Nouvelle tâche : Réaliser une séance de prévention "
                                 "podologique (Pédicure-podologue : Luc Petit)")
    expect(done).to_contain_text("Grade 2, 4 séances de podologie par an")
    expect(page.get_by_role("button", name="Terminer la tâche")).to_have_count(0)
    assert_fits(page)
    row = world.task(task)
    assert (row.status, row.result) == ("completed", {"grade": 2})
    podiatry = world.task(world.open_task(patient, "seance_podologie"))
    assert podiatry.assignee_id == world.ids["podiatrist"]


def test_nurse_records_a_weight_gain_that_raises_the_alert(page: Page, site: Site) -> None:
    world = site.world
    patient = world.heart_failure_followed(last_weight=70.0)
    task = world.open_task(patient, "visite_infirmiere_j7")
    sign_in_from_message(page, site, NURSE, world.task_link(NURSE, task))

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Faire la première visite infirmière à domicile")
    page.get_by_label("Observation", exact=True).select_option(WEIGHT)
    page.get_by_label("Valeur", exact=True).fill("73,5")
    page.get_by_role("button", name="Enregistrer l'observation").click()

    done = page.get_by_role("status")
    expect(done).to_contain_text("Observation enregistrée")
    expect(done).to_contain_text("Nouvelle tâche : Voir le patient rapidement (prise de "
                                 "poids rapide) (Médecin traitant : Paul Martin)")
    assert_fits(page)
    alert = world.open_task(patient, "alerte_prise_de_poids")
    assert world.task(alert).assignee_id == world.ids["gp"]
    world.dispatch()
    assert world.task_link(GP, alert).startswith(site.url)
    # the pathway's alert: in full over MSSanté (GP), without health data by e-mail (nurse)
    alert_text = "Prise de poids rapide (au moins 3 kg en une semaine)"
    assert any(alert_text in m.text for m in world.messages_to(GP) if m.channel == MSSANTE)
    to_nurse = [m for m in world.messages_to(NURSE) if m.kind == kinds.PATHWAY_MESSAGE]
    assert to_nurse and all(alert_text not in m.text for m in to_nurse)


def test_pharmacist_declines_a_task_with_a_reason(page: Page, site: Site) -> None:
    world = site.world
    patient = world.heart_failure_followed()
    task = world.open_task(patient, "bilan_medication")
    sign_in_from_message(page, site, PHARMACIST, world.task_link(PHARMACIST, task))

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Faire un bilan partagé de médication")
    page.get_by_role("button", name="Refuser la tâche").click()
    expect(page.get_by_role("alert")).to_contain_text("motif du refus : obligatoire")
    assert world.task(task).status == "requested"

    page.get_by_label("Motif du refus").fill("Patiente suivie par une autre officine")
    page.get_by_role("button", name="Refuser la tâche").click()
    expect(page.get_by_role("status")).to_contain_text("Tâche refusée")
    assert_fits(page)
    row = world.task(task)
    assert (row.status, row.assignee_id, row.decline_reason) == (
        "declined", world.ids["coordinator"], "Patiente suivie par une autre officine")
    world.dispatch()
    assert world.task_link(COORDINATOR, task).startswith(site.url)
