"""The coordinator's Patients pages, clicked through in Chromium (SQLite and PostgreSQL,
desktop and phone): finding a patient by a name typed without accents, reading the
timeline, editing the care team."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from engine.store.db import transaction
from engine.store.tables import Patient
from tests.web.browser.conftest import Site
from tests.web.browser.test_accessibility import sign_in_directly
from tests.web.browser.test_flows import assert_fits
from tests.web.browser.world import COORDINATOR, NOW

pytestmark = pytest.mark.browser


def _helene(site: Site) -> int:
    """A patient whose names carry accents, made once per server."""
    with transaction(site.world.engine) as db:
        found = db.query(Patient).filter(Patient.family_name == "Lefèvre-Gaël").first()
        if found is not None:
            return found.id or 0
        row = Patient(family_name="Lefèvre-Gaël", given_names="Hélène", sex="F",
                      birth_date=date(1948, 2, 29), created_at=NOW - timedelta(days=30),
                      local_id="B-HELENE")
        db.add(row)
        db.flush()
        return row.id or 0


def test_finding_a_patient_by_a_name_typed_without_accents(page: Page, site: Site) -> None:
    patient = _helene(site)
    sign_in_directly(page, site, COORDINATOR)
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_label("Nom, date de naissance (JJ/MM/AAAA), INS ou identifiant local") \
        .fill("helene lefevre")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("status")).to_contain_text("1 patient(s)")
    page.get_by_role("link", name="Hélène LEFÈVRE-GAËL").click()
    expect(page).to_have_url(site.at(f"/coordination/patients/{patient}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hélène LEFÈVRE-GAËL")
    # by birth date too
    page.goto(site.at("/coordination/patients"))
    page.get_by_label("Nom, date de naissance (JJ/MM/AAAA), INS ou identifiant local") \
        .fill("29/02/1948")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("link", name="Hélène LEFÈVRE-GAËL")).to_be_visible()
    assert_fits(page)


def test_reading_a_timeline(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    sign_in_directly(page, site, COORDINATOR)
    page.goto(site.at(f"/coordination/patients/{patient}"))
    history = page.get_by_role("region", name="Historique")
    expect(history).to_contain_text("Inscription dans le parcours")
    expect(history).to_contain_text(re.compile(r"demandée à Anne Bernard \(Infirmier·ère\) "
                                               r"pour le \d\d/\d\d/\d{4}"))
    expect(history).to_contain_text(re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d"))
    expect(history).not_to_contain_text("task_created")
    assert_fits(page)


def test_editing_the_care_team(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    sign_in_directly(page, site, COORDINATOR)
    page.goto(site.at(f"/coordination/patients/{patient}"))
    page.get_by_label("Rôle", exact=True).select_option(label="Cardiologue")
    page.get_by_label("Professionnel (à partir d'aujourd'hui)").select_option(
        label="PETIT Luc (pédicure-podologue)")
    page.get_by_role("button", name="Enregistrer l'équipe de soins").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Équipe de soins modifiée : Luc Petit — Cardiologue")
    team = page.get_by_role("region", name="Équipe de soins")
    expect(team).to_contain_text("Cardiologue : Luc Petit")
    expect(page.get_by_role("region", name="Historique")).to_contain_text(
        "Équipe de soins : Luc Petit devient « Cardiologue » par Claire Roux, coordination")
    # no professional chosen: the error is next to the field, nothing written
    page.get_by_role("button", name="Enregistrer l'équipe de soins").click()
    expect(page.locator("#equipe-erreur")).to_contain_text("Professionnel : choisissez")
    assert_fits(page)
