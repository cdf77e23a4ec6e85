"""The coordinator's « Paramètres des parcours » page: effective values, defaults, source
and who set them (the workspace view of ``parcours pathways show``)."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import COORDINATOR, NURSE, T0, Web


def test_the_coordinator_sees_each_parameter_with_its_source(web: Web) -> None:
    client = web.signed_in(COORDINATOR)
    page = client.get("/coordination/parametres")
    assert page.status_code == 200
    assert "Aucun réglage du territoire : valeurs par défaut du parcours." in page.text
    web.service.publish_settings("hba1c_interval: P6M\n", "r.yaml", "exemple-suivi",
                                 "Claire Roux", T0)
    web.service.publish_settings("hba1c_interval: P6M\nhba1c_target: 7.5\n", "r.yaml",
                                 "exemple-suivi", "Paul Martin", T0 + timedelta(days=1))
    page = client.get("/coordination/parametres")
    html = page.text
    assert "Réglages du territoire : version 2, publiée le mardi 6 janvier 2026 à 09:00 " \
           "par Paul Martin." in html
    row = html[html.index("Intervalle entre deux HbA1c"):]
    row = row[:row.index("</tr>")]
    assert "<td>P6M</td>" in row and "<td>P3M</td>" in row
    assert "réglages v2, par Claire Roux le lundi 5 janvier 2026 à 09:00" in row
    row = html[html.index("Cible d&#39;HbA1c"):]
    row = row[:row.index("</tr>")]
    assert "<td>7.5 %</td>" in row and "<td>7.0 %</td>" in row and "Paul Martin" in row
    assert "Paramètres des parcours" in client.get("/tasks").text


def test_other_professionals_do_not_see_it(web: Web) -> None:
    page = web.signed_in(NURSE).get("/coordination/parametres")
    assert page.status_code == 404
    assert "Paramètres des parcours" not in web.signed_in(NURSE).get("/tasks").text
