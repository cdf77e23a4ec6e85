"""Locust users of ``benchmarks/web.py``: professionals who sign in once, then browse and
complete their tasks; coordinators who watch the dashboard and the queue.

Run by ``benchmarks/web.py`` (``locust --headless``), never by hand: the plan (one
sign-in token per professional, the tasks each may open and complete, the form values)
is a JSON file named by ``PARCOURS_BENCH_WEB_PLAN``. Every request's time is kept and
written to ``PARCOURS_BENCH_WEB_SAMPLES`` when Locust stops, so that the percentiles are
computed exactly (Locust's own are rounded to two significant digits).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from typing import Any

from locust import HttpUser, between, events, task

PLAN: dict[str, Any] = json.loads(open(os.environ["PARCOURS_BENCH_WEB_PLAN"],  # noqa: SIM115
                                       encoding="utf-8").read())
SAMPLES: dict[str, list[float]] = {}
FAILURES: dict[str, int] = {}
_NEXT = itertools.count()
_NEXT_COORDINATOR = itertools.count()
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
KEY = re.compile(r'name="cle" value="([0-9a-f]+)"')
DONE = "Tâche terminée"


@events.request.add_listener
def _keep(name: str, response_time: float, exception: BaseException | None,
          **_: Any) -> None:
    if exception is None:
        SAMPLES.setdefault(name, []).append(response_time)
    else:
        FAILURES[name] = FAILURES.get(name, 0) + 1


@events.quitting.add_listener
def _write(**_: Any) -> None:
    with open(os.environ["PARCOURS_BENCH_WEB_SAMPLES"], "w", encoding="utf-8") as out:
        json.dump({"samples": SAMPLES, "failures": FAILURES}, out)


class Professional(HttpUser):
    """One professional of the plan: signs in with their one-time link, then works."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        me = PLAN["users"][next(_NEXT) % len(PLAN["users"])]
        self.views: list[int] = list(me["view"])
        self.todo: list[int] = list(me["complete"])
        self.form: dict[str, str] = me["form"]
        link = f"/connexion/lien?p={me['id']}&t={me['token']}"
        page = self.client.get(link, name="sign-in (once)")
        csrf = CSRF.search(page.text)
        with self.client.post("/connexion/lien", name="sign-in (once)", catch_response=True,
                              data={"csrf": csrf.group(1) if csrf else "", "p": me["id"],
                                    "t": me["token"], "suite": "/tasks"}) as answer:
            if not answer.url or not answer.url.endswith("/tasks"):
                answer.failure(f"sign-in did not land on /tasks ({answer.status_code})")

    @task(3)
    def inbox(self) -> None:
        self.client.get("/tasks", name="inbox: GET /tasks")

    @task(3)
    def task_page(self) -> None:
        self.client.get(f"/tasks/{random.choice(self.views)}", name="task page: GET /tasks/[id]")

    @task(1)
    def complete(self) -> None:
        if not self.todo:
            return
        task_id = self.todo.pop()
        page = self.client.get(f"/tasks/{task_id}", name="task page: GET /tasks/[id]")
        csrf, key = CSRF.search(page.text), KEY.search(page.text)
        if csrf is None or key is None:
            return
        with self.client.post(f"/tasks/{task_id}/terminer", catch_response=True,
                              name="completion: POST /tasks/[id]/terminer",
                              data={"csrf": csrf.group(1), "cle": key.group(1), **self.form}
                              ) as answer:
            if answer.status_code != 200 or DONE not in answer.text:
                answer.failure(f"not completed ({answer.status_code})")


class Coordinator(HttpUser):
    """The CPTS coordinator (``fixed_count`` of them): the dashboard, its charts, the queue."""

    wait_time = between(0.5, 1.5)
    fixed_count = int(os.environ.get("PARCOURS_BENCH_WEB_COORDINATORS", "0"))

    def on_start(self) -> None:
        me = PLAN["coordinators"][next(_NEXT_COORDINATOR) % len(PLAN["coordinators"])]
        link = f"/connexion/lien?p={me['id']}&t={me['token']}"
        page = self.client.get(link, name="sign-in (once)")
        csrf = CSRF.search(page.text)
        self.client.post("/connexion/lien", name="sign-in (once)", data={
            "csrf": csrf.group(1) if csrf else "", "p": me["id"], "t": me["token"],
            "suite": "/tasks"})

    @task(3)
    def dashboard(self) -> None:
        self.client.get("/coordination/tableau-de-bord",
                        name="dashboard: GET /coordination/tableau-de-bord")

    @task(1)
    def chart(self) -> None:
        self.client.get(random.choice(["/coordination/graphiques/roles.svg",
                                       "/coordination/graphiques/mois.svg"]),
                        name="dashboard chart: GET /coordination/graphiques/[x].svg")

    @task(3)
    def queue(self) -> None:
        self.client.get("/coordination/a-traiter", name="queue: GET /coordination/a-traiter")
