from __future__ import annotations

from tests.web.conftest import NURSE, Web


def test_nurse_sees_her_task(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(NURSE)
    inbox = client.get("/tasks")
    assert inbox.status_code == 200, inbox.text
    assert f"/tasks/{task}" in inbox.text
    page = client.get(f"/tasks/{task}")
    assert page.status_code == 200, page.text
    assert "Grade de risque" in page.text
