"""Load what a batch of claimed outbox rows is about, in a handful of queries.

One read transaction per batch: the tasks, cases, patients, professionals
and pathway versions of every row (and of the items of a digest, and of the
row a delivery failure reports) are fetched with one ``IN`` query each, then
turned into ``views``. Role and pathway titles come from the compiled
pathway of the case's version (compiled once per process).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine.store.bulk import in_ids
from engine.store.db import transaction
from engine.store.registry import compiled
from engine.store.tables import CaseRow, OutboxRow, PathwayVersion, Patient, Professional, TaskRow
from notifications import kinds
from notifications.outbox import Claimed
from notifications.views import FailedView, MessageData, PatientView, RecipientView, TaskView


@dataclass
class Bundle:
    """Rows of one batch, by id."""

    tasks: dict[int, TaskRow] = field(default_factory=dict)
    cases: dict[int, CaseRow] = field(default_factory=dict)
    patients: dict[int, Patient] = field(default_factory=dict)
    pros: dict[int, Professional] = field(default_factory=dict)
    versions: dict[int, PathwayVersion] = field(default_factory=dict)
    items: dict[int, OutboxRow] = field(default_factory=dict)


def _get(session: Session, table: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.scalars(select(table).where(in_ids(table.id, wanted, session)))
    return {row.id: row for row in rows}


def _related_ids(rows: Sequence[Claimed]) -> tuple[set[int], set[int]]:
    """Ids of digest items and of reported failed rows."""
    items = {int(i) for r in rows if r.kind == kinds.DAILY_DIGEST
             for i in r.payload.get("items", [])}
    failed = {int(r.payload["failed_id"]) for r in rows
              if r.kind == kinds.DELIVERY_FAILURE and "failed_id" in r.payload}
    return items, failed


def load_bundle(session: Session, rows: Sequence[Claimed]) -> Bundle:
    bundle = Bundle()
    item_ids, failed_ids = _related_ids(rows)
    bundle.items = _get(session, OutboxRow, item_ids | failed_ids)
    others = [_as_claimed(r) for r in bundle.items.values()]
    everything = [*rows, *others]
    bundle.tasks = _get(session, TaskRow, (r.subject_task_id for r in everything))
    bundle.cases = _get(session, CaseRow, [*(r.case_id for r in everything),
                                           *(t.case_id for t in bundle.tasks.values())])
    bundle.patients = _get(session, Patient, (c.patient_id for c in bundle.cases.values()))
    bundle.versions = _get(session, PathwayVersion,
                           (c.pathway_version_id for c in bundle.cases.values()))
    bundle.pros = _get(session, Professional, [
        *(r.recipient_id for r in everything), *(t.assignee_id for t in bundle.tasks.values())])
    return bundle


def load(engine: Engine, rows: Sequence[Claimed]) -> Bundle:
    with transaction(engine) as session:
        return load_bundle(session, rows)


def _as_claimed(row: OutboxRow) -> Claimed:
    return Claimed(row.id or 0, row.idempotency_key, row.kind, row.case_id, row.task_id,
                   row.recipient_id, dict(row.payload or {}), row.attempts, row.created_at)


def recipient_view(pro: Professional) -> RecipientView:
    return RecipientView(pro.id or 0, pro.family_name, pro.given_names, pro.profession,
                         pro.rpps, pro.email, pro.mssante, pro.phone, pro.active,
                         dict(pro.preferences or {}))


def message_data(bundle: Bundle, row: Claimed) -> MessageData | None:
    """The row as views; None when its recipient is unknown."""
    pro = bundle.pros.get(row.recipient_id) if row.recipient_id is not None else None
    if pro is None:
        return None
    task_row = bundle.tasks.get(row.subject_task_id or -1)
    case_id = row.case_id if row.case_id is not None else (task_row.case_id if task_row
                                                           else None)
    case = bundle.cases.get(case_id) if case_id is not None else None
    version = bundle.versions.get(case.pathway_version_id) if case else None
    return MessageData(
        row_id=row.id, kind=row.kind, idempotency_key=row.idempotency_key,
        created_at=row.created_at, recipient=recipient_view(pro), payload=row.payload,
        case_id=case_id, task=_task_view(bundle, task_row, version) if task_row else None,
        patient=_patient_view(bundle.patients.get(case.patient_id)) if case else None,
        pathway_title=version.title if version else "",
        role_title=_role_title(version, str(row.payload.get("role", ""))),
        items=_items(bundle, row), failed=_failed(bundle, row))


def _task_view(bundle: Bundle, task: TaskRow, version: PathwayVersion | None) -> TaskView:
    assignee = bundle.pros.get(task.assignee_id) if task.assignee_id is not None else None
    return TaskView(
        id=task.id or 0, case_id=task.case_id, title=task.title, role=task.role,
        role_title=_role_title(version, task.role), status=task.status, due_at=task.due_at,
        description=task.description, assignee_id=task.assignee_id,
        assignee_name=f"{assignee.given_names} {assignee.family_name}" if assignee else None,
        unassigned_role=task.unassigned_role, pathway_title=version.title if version else "",
        urgent=_urgent(version, task.key), closed_at=task.closed_at)


def _urgent(version: PathwayVersion | None, task_key: str) -> bool:
    if version is None:
        return False
    spec = compiled(version).definition.tasks.get(task_key)
    return spec is not None and spec.urgent


def _patient_view(patient: Patient | None) -> PatientView | None:
    if patient is None:
        return None
    return PatientView(patient.family_name, patient.given_names, patient.birth_date,
                       patient.sex, patient.id)


def _role_title(version: PathwayVersion | None, role: str) -> str:
    if version is None or not role:
        return role
    spec = compiled(version).definition.roles.get(role)
    return spec.title if spec is not None else role


def _items(bundle: Bundle, row: Claimed) -> tuple[MessageData, ...]:
    if row.kind != kinds.DAILY_DIGEST:
        return ()
    found = (bundle.items.get(int(i)) for i in row.payload.get("items", []))
    datas = (message_data(bundle, _as_claimed(item)) for item in found if item is not None)
    return tuple(d for d in datas if d is not None)


def _failed(bundle: Bundle, row: Claimed) -> FailedView | None:
    if row.kind != kinds.DELIVERY_FAILURE or "failed_id" not in row.payload:
        return None
    failed = bundle.items.get(int(row.payload["failed_id"]))
    if failed is None:
        return None
    pro = bundle.pros.get(failed.recipient_id) if failed.recipient_id is not None else None
    claimed = _as_claimed(failed)
    return FailedView(failed.id or 0, failed.kind, failed.attempts,
                      f"{pro.given_names} {pro.family_name}" if pro else "inconnu",
                      failed.channel, failed.last_error or "", claimed.subject_task_id,
                      failed.case_id)
