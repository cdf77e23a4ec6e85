"""What the coordinator does in « À traiter », clicked through in Chromium, on SQLite and
PostgreSQL, desktop and phone: fix a refused observation and see the case move; give a
vacant role to a professional and see the task reach them; reassign a declined task.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser.conftest import Site
from tests.web.browser.coord_scenarios import (
    declined_review,
    diabetic_without_nurse,
    refused_peptide,
)
from tests.web.browser.test_accessibility import sign_in_directly
from tests.web.browser.test_flows import assert_fits
from tests.web.browser.world import COORDINATOR, GP, NURSE

pytestmark = pytest.mark.browser
QUEUE = "/coordination/a-traiter"


def test_a_refused_observation_is_corrected_and_the_case_moves(page: Page, site: Site
                                                                ) -> None:
    patient, row = refused_peptide(site.world)
    sign_in_directly(page, site, COORDINATOR)
    page.get_by_role("link", name="À traiter", exact=True).click()
    expect(page.locator(f"#erreur-{row}")).to_contain_text("Refusé")
    expect(page.locator(f"#erreur-{row}")).not_to_contain_text("Error")
    assert_fits(page)
    page.locator(f"#valeur-{row}").fill("900")
    page.locator(f"#corriger-{row}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Événement entrant {row} corrigé et "
                                                       "appliqué")
    expect(page.locator(f"#evenement-{row}")).to_have_count(0)
    page.goto(site.at(f"/patients/{patient}"))
    expect(page.locator("main")).to_contain_text("Échocardiographie et avis du cardiologue")


def test_a_vacant_role_is_given_and_the_task_reaches_the_professional(page: Page, site: Site
                                                                      ) -> None:
    world = site.world
    _, task = diabetic_without_nurse(world)
    sign_in_directly(page, site, COORDINATOR)
    page.goto(site.at(QUEUE + "#roles-vacants"))
    page.locator(f"#role-{task}").select_option(str(world.ids["nurse"]))
    page.locator(f"#affecter-{task}").click()
    expect(page.get_by_role("status")).to_contain_text("rejoint l'équipe de soins")
    expect(page.locator(f"#affecter-{task}")).to_have_count(0)
    world.dispatch()
    link = world.task_link(NURSE, task)
    page.context.clear_cookies()
    sign_in_directly(page, site, NURSE)
    page.goto(link)
    expect(page.locator("h1")).to_contain_text("Examiner les pieds")


def test_a_declined_task_is_reassigned(page: Page, site: Site) -> None:
    world = site.world
    task = declined_review(world)
    sign_in_directly(page, site, COORDINATOR)
    page.goto(site.at(QUEUE + "#refusees"))
    expect(page.locator("#refusees").locator("..")).to_contain_text("autre officine")
    page.locator(f"#reattribuer-a-{task}").select_option(str(world.ids["gp"]))
    page.locator(f"#reattribuer-{task}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Tâche {task} réattribuée")
    assert world.task(task).assignee_id == world.ids["gp"]
    world.dispatch()
    assert world.task_link(GP, task).endswith(f"/tasks/{task}")
