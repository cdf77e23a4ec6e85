"""axe-core (through axe-playwright-python) on every page of the workspace, in Chromium.

Every page a visitor can reach is listed in ``VISITS``, in the states that matter (a form
with its errors, the notice after an action, the 404 page), and checked on a desktop
and a phone-sized viewport: no *serious* or *critical* violation is allowed.
``test_every_page_of_the_app_is_checked`` fails when the app gains a page (a GET route)
that no visit covers, so a new page cannot skip the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from engine.store import signin
from engine.store.db import transaction
from tests.web.browser.conftest import Site
from tests.web.browser.coord_scenarios import (
    declined_review,
    diabetic_without_nurse,
    refused_peptide,
)
from tests.web.browser.world import COORDINATOR, GP, NURSE, PHARMACIST, WEIGHT, World

#: One server, on SQLite: what axe checks does not depend on the database.
pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("site", ["sqlite"], indirect=True)]
BLOCKING = ("serious", "critical")
#: GET routes that only redirect (no page of their own to check).
REDIRECTS = {"/", "/cases/{case_id}"}
#: GET routes that answer a file, not a page (CSV downloads, SVG charts): their format is
#: tested in tests/web/test_csv_export.py, test_coord_dashboard.py and test_coord_access.py.
DOWNLOADS = {"/coordination/patients.csv", "/coordination/professionals.csv",
             "/coordination/tableau-de-bord/etats.csv", "/coordination/graphiques/roles.svg",
             "/coordination/graphiques/mois.svg", "/coordination/a-traiter/{liste}.csv",
             "/coordination/rapport.csv", "/coordination/journal.csv"}


def sign_in_directly(page: Page, site: Site, person: Any) -> None:
    """A one-time link issued in the database (the sign-in form is tested in the flows)."""
    world = site.world
    with transaction(world.engine) as db:
        token = signin.issue(db, world.ids[person.key], world.now(), timedelta(minutes=15))
    page.goto(site.at(f"/connexion/lien?p={world.ids[person.key]}&t={token}&suite=/tasks"))
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(site.at("/tasks"))


def foot_exam(world: World) -> tuple[int, int]:
    return world.diabetic_with_foot_exam()


def _sign_in_sent(page: Page, site: Site) -> None:
    page.goto(site.at("/connexion"))
    page.get_by_label("Adresse e-mail ou MSSanté").fill("inconnu@example.fr")
    page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("status")).to_be_visible()


def _link_used_twice(page: Page, site: Site) -> None:
    world = site.world
    with transaction(world.engine) as db:
        token = signin.issue(db, world.ids["gp"], world.now(), timedelta(minutes=15))
    link = site.at(f"/connexion/lien?p={world.ids['gp']}&t={token}")
    for _ in range(2):
        page.goto(link)
        page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("n'est plus valable")


def _task_with_errors(page: Page, site: Site) -> None:
    _, task = foot_exam(site.world)
    page.goto(site.at(f"/tasks/{task}"))
    page.get_by_label("Grade de risque podologique").fill("7")
    page.get_by_role("button", name="Terminer la tâche").click()
    expect(page.locator(".field-error")).to_be_visible()


def _task_done(page: Page, site: Site) -> None:
    _, task = foot_exam(site.world)
    page.goto(site.at(f"/tasks/{task}"))
    page.get_by_label("Grade de risque podologique").fill("1")
    page.get_by_role("button", name="Terminer la tâche").click()
    expect(page.get_by_role("status")).to_contain_text("Tâche terminée")


def _decline_without_reason(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    page.goto(site.at(f"/tasks/{site.world.open_task(patient, 'bilan_medication')}"))
    page.get_by_role("button", name="Refuser la tâche").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _observation_error(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    page.goto(site.at(f"/patients/{patient}"))
    page.get_by_label("Observation", exact=True).select_option(WEIGHT)
    page.get_by_label("Valeur", exact=True).fill("900")
    page.get_by_role("button", name="Enregistrer l'observation").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _preferences(hour: str, expected: str) -> Callable[[Page, Site], None]:
    def go(page: Page, site: Site) -> None:
        page.goto(site.at("/preferences"))
        page.get_by_label("Heure du récapitulatif quotidien").fill(hour)
        page.get_by_role("button", name="Enregistrer mes préférences").click()
        expect(page.locator(expected).first).to_be_visible()

    return go


def _goto(path: Callable[[World], str]) -> Callable[[Page, Site], None]:
    def go(page: Page, site: Site) -> None:
        page.goto(site.at(path(site.world)))

    return go


def _declined(world: World) -> str:
    patient = world.heart_failure_followed()
    task = world.open_task(patient, "bilan_medication")
    world.service.decline_task(task, world.ids["pharmacist"], "Autre officine", world.now())
    return "/coordination"


# -- the coordinator's patients and professionals (issue 13) ---------------------------------

def _search_patients(query: str, expected: str) -> Callable[[Page, Site], None]:
    def go(page: Page, site: Site) -> None:
        site.world.heart_failure_followed()
        page.goto(site.at("/coordination/patients"))
        page.get_by_label("Nom, date de naissance (JJ/MM/AAAA), INS ou identifiant local") \
            .fill(query)
        page.get_by_role("button", name="Rechercher").click()
        expect(page.get_by_role("status")).to_contain_text(expected)

    return go


def _care_team_error(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    page.goto(site.at(f"/coordination/patients/{patient}"))
    page.get_by_role("button", name="Enregistrer l'équipe de soins").click()
    expect(page.locator("#equipe-erreur")).to_be_visible()


def _care_team_changed(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    page.goto(site.at(f"/coordination/patients/{patient}"))
    page.get_by_label("Rôle", exact=True).select_option(label="Cardiologue")
    page.get_by_label("Professionnel (à partir d'aujourd'hui)").select_option(
        value=str(site.world.ids["gp"]))  # the podiatrist is deactivated by a later visit
    page.get_by_role("button", name="Enregistrer l'équipe de soins").click()
    expect(page.get_by_role("status")).to_be_visible()


def _close_without_reason(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    page.goto(site.at(f"/coordination/patients/{patient}"))
    page.get_by_role("button", name="Clore ce dossier").first.click()
    expect(page.locator(".close-case .field-error")).to_be_visible()


def _case_closed(page: Page, site: Site) -> None:
    patient = site.world.heart_failure_followed()
    page.goto(site.at(f"/coordination/patients/{patient}"))
    page.locator(".close-case input[name=motif]").first.fill("Déménagement")
    page.get_by_role("button", name="Clore ce dossier").first.click()
    expect(page.get_by_role("status")).to_contain_text("clos")


def _eligibility(pathway: str) -> Callable[[World], str]:
    return lambda w: f"/coordination/patients/{w.heart_failure_followed()}/inscription" \
                     f"?parcours={pathway}"


def _new_professional_errors(page: Page, site: Site) -> None:
    page.goto(site.at("/coordination/professionals/nouveau"))
    page.get_by_label("Numéro RPPS").fill("123")
    page.get_by_role("button", name="Enregistrer le professionnel").click()
    expect(page.locator(".field-error").first).to_be_visible()


def _professional_deactivated(page: Page, site: Site) -> None:
    # the podiatrist: no other visit of this module needs him active (the pharmacist
    # declines a review in the queue's visits; the desktop run deactivates, the phone run
    # reactivates)
    site.world.heart_failure_followed()
    page.goto(site.at(f"/coordination/professionals/{site.world.ids['podiatrist']}"))
    button = page.get_by_role("button", name=re.compile("Désactiver|Réactiver"))
    button.click()
    expect(page.get_by_role("status")).to_be_visible()


def _queue_full(world: World) -> str:
    """« À traiter » with something in every section that has a form."""
    refused_peptide(world)
    diabetic_without_nurse(world)
    declined_review(world)
    return "/coordination/a-traiter"


def _queue_error(page: Page, site: Site) -> None:
    _, row = refused_peptide(site.world)
    page.goto(site.at("/coordination/a-traiter"))
    page.locator(f"#ecarter-{row}").click()
    expect(page.get_by_role("alert")).to_contain_text("Motif")


def _queue_done(page: Page, site: Site) -> None:
    _, task = diabetic_without_nurse(site.world)
    page.goto(site.at("/coordination/a-traiter"))
    page.locator(f"#affecter-{task}").click()
    expect(page.get_by_role("status")).to_be_visible()


@dataclass(frozen=True)
class Visit:
    name: str
    route: str
    who: Any
    go: Callable[[Page, Site], None]


VISITS = [
    Visit("connexion", "/connexion", None, _goto(lambda w: "/connexion")),
    Visit("connexion-lien-envoye", "/connexion", None, _sign_in_sent),
    Visit("connexion-au-revoir", "/connexion", None, _goto(lambda w: "/connexion?au-revoir=1")),
    Visit("confirmation-du-lien", "/connexion/lien", None,
          _goto(lambda w: "/connexion/lien?p=1&t=" + "x" * 43)),
    Visit("lien-deja-utilise", "/connexion/lien", None, _link_used_twice),
    Visit("mes-taches", "/tasks", GP, _goto(lambda w: (foot_exam(w), "/tasks")[1])),
    Visit("mes-taches-filtrees", "/tasks", GP,
          _goto(lambda w: "/tasks?parcours=diabete-type2")),
    Visit("mes-taches-vide", "/tasks", PHARMACIST,
          _goto(lambda w: "/tasks?parcours=inconnu")),
    Visit("tache", "/tasks/{task_id}", GP, _goto(lambda w: f"/tasks/{foot_exam(w)[1]}")),
    Visit("tache-erreurs", "/tasks/{task_id}", GP, _task_with_errors),
    Visit("tache-terminee", "/tasks/{task_id}", GP, _task_done),
    Visit("tache-refus-sans-motif", "/tasks/{task_id}", PHARMACIST, _decline_without_reason),
    Visit("patient", "/patients/{patient_id}", NURSE,
          _goto(lambda w: f"/patients/{w.heart_failure_followed()}")),
    Visit("patient-observation-erreur", "/patients/{patient_id}", NURSE, _observation_error),
    Visit("coordination", "/coordination", COORDINATOR, _goto(_declined)),
    Visit("journal-des-acces", "/coordination/journal", COORDINATOR,
          _goto(lambda w: "/coordination/journal")),
    Visit("parametres-des-parcours", "/coordination/parametres", COORDINATOR,
          _goto(lambda w: "/coordination/parametres")),
    Visit("message-de-la-boite-d-envoi", "/outbox/{row_id}", COORDINATOR,
          _goto(lambda w: (w.heart_failure_followed(), f"/outbox/{w.last_message_row()}")[1])),
    Visit("mes-preferences", "/preferences", GP, _goto(lambda w: "/preferences")),
    Visit("mes-preferences-erreurs", "/preferences", NURSE, _preferences("25:00", ".field-error")),
    Visit("mes-preferences-enregistrees", "/preferences", GP,
          _preferences("18:30", ".notice.success")),
    Visit("patients", "/coordination/patients", COORDINATOR,
          _goto(lambda w: "/coordination/patients")),
    Visit("patients-trouves", "/coordination/patients", COORDINATOR,
          _search_patients("jeanne moreau", "patient(s)")),
    Visit("patients-aucun", "/coordination/patients", COORDINATOR,
          _search_patients("zzzz", "Aucun patient")),
    Visit("dossier-coordination", "/coordination/patients/{patient_id}", COORDINATOR,
          _goto(lambda w: f"/coordination/patients/{w.heart_failure_followed()}")),
    Visit("dossier-equipe-erreur", "/coordination/patients/{patient_id}", COORDINATOR,
          _care_team_error),
    Visit("dossier-equipe-modifiee", "/coordination/patients/{patient_id}", COORDINATOR,
          _care_team_changed),
    Visit("dossier-cloture-sans-motif", "/coordination/patients/{patient_id}", COORDINATOR,
          _close_without_reason),
    Visit("dossier-clos", "/coordination/patients/{patient_id}", COORDINATOR, _case_closed),
    Visit("inscription-non-eligible", "/coordination/patients/{patient_id}/inscription",
          COORDINATOR, _goto(_eligibility("diabete-type2"))),
    Visit("inscription-deja-inscrit", "/coordination/patients/{patient_id}/inscription",
          COORDINATOR, _goto(_eligibility("insuffisance-cardiaque-65"))),
    Visit("professionnels", "/coordination/professionals", COORDINATOR,
          _goto(lambda w: "/coordination/professionals?q=e")),
    Visit("nouveau-professionnel", "/coordination/professionals/nouveau", COORDINATOR,
          _goto(lambda w: "/coordination/professionals/nouveau")),
    Visit("nouveau-professionnel-erreurs", "/coordination/professionals/nouveau",
          COORDINATOR, _new_professional_errors),
    Visit("professionnel", "/coordination/professionals/{professional_id}", COORDINATOR,
          _goto(lambda w: (w.heart_failure_followed(),
                           f"/coordination/professionals/{w.ids['nurse']}")[1])),
    Visit("professionnel-desactive", "/coordination/professionals/{professional_id}",
          COORDINATOR, _professional_deactivated),
    Visit("tableau-de-bord", "/coordination/tableau-de-bord", COORDINATOR,
          _goto(lambda w: (_queue_full(w), "/coordination/tableau-de-bord")[1])),
    Visit("tableau-de-bord-un-parcours", "/coordination/tableau-de-bord", COORDINATOR,
          _goto(lambda w: "/coordination/tableau-de-bord?parcours=diabete-type2")),
    Visit("a-traiter", "/coordination/a-traiter", COORDINATOR, _goto(_queue_full)),
    Visit("a-traiter-erreur", "/coordination/a-traiter", COORDINATOR, _queue_error),
    Visit("a-traiter-fait", "/coordination/a-traiter", COORDINATOR, _queue_done),
    Visit("exports", "/coordination/exports", COORDINATOR,
          _goto(lambda w: "/coordination/exports")),
    Visit("rapport-mensuel", "/coordination/rapport", COORDINATOR,
          _goto(lambda w: "/coordination/rapport?mois=2026-02")),
    Visit("rapport-mensuel-erreur", "/coordination/rapport", COORDINATOR,
          _goto(lambda w: "/coordination/rapport?mois=fevrier")),
    Visit("journal-des-acces-filtre", "/coordination/journal", COORDINATOR,
          _goto(lambda w: "/coordination/journal?du=2026-03-01&au=2026-02-01")),
    Visit("erreur-404", "/tasks/{task_id}", GP, _goto(lambda w: "/tasks/999999")),
    Visit("erreur-404-hors-connexion", "/{page}", None, _goto(lambda w: "/nulle-part")),
]


def test_the_check_finds_a_serious_violation(page: Page, site: Site) -> None:
    """The check itself can fail: an image without text and a field without a label."""
    page.set_content('<html lang="fr"><title>t</title><main><h1>t</h1><img src="x.png">'
                     '<input type="text"></main></html>')
    assert {v.split(" ")[1] for v in blocking_violations(page)} == {"image-alt", "label"}


def blocking_violations(page: Page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, n["target"])) for n in violation["nodes"][:3]]
            found.append(f"{violation['impact']}: {violation['id']} ({violation['help']}) "
                         f"at {', '.join(targets)}")
    return found


@pytest.mark.parametrize("visit", VISITS, ids=[v.name for v in VISITS])
def test_no_serious_accessibility_violation(page: Page, site: Site, visit: Visit) -> None:
    if visit.who is not None:
        sign_in_directly(page, site, visit.who)
    visit.go(page, site)
    expect(page.locator("h1")).to_have_count(1)
    assert blocking_violations(page) == [], f"{visit.name}: {page.url}"


def get_routes(routes: list[Any], prefix: str = "") -> set[str]:
    """The paths of every GET route, including those of included routers (FastAPI keeps
    them behind an ``_IncludedRouter`` holding the ``original_router``)."""
    from starlette.routing import Route

    found: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            found |= get_routes(included.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, Route) and "GET" in (route.methods or set()):
            found.add(prefix + route.path)
    return found


def test_every_page_of_the_app_is_checked(site: Site) -> None:
    from engine.settings import Settings
    from web.app import create_app
    from web.settings import WebSettings

    app = create_app(WebSettings(secret_key="x" * 48), Settings(database_url="sqlite://"),
                     clock=site.world.clock)
    # /fhir serves FHIR JSON to systems, no page (tests/web/test_fhir_*.py check it)
    pages = {p for p in get_routes(app.routes) if not p.startswith("/fhir/")}
    assert {"/tasks", "/tasks/{task_id}", "/connexion"} <= pages
    checked = {v.route for v in VISITS}
    assert pages - REDIRECTS - DOWNLOADS - checked == set()
    assert pages >= DOWNLOADS
    assert checked - {"/{page}"} <= pages
