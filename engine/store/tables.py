"""The database tables (SQLModel). The schema itself is managed by Alembic.

Every time column is timezone-aware UTC (``UTCDateTime``). Clinical data
lives here and nowhere else: Prefect only ever sees ids and counts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, event, literal_column, text
from sqlmodel import Field, SQLModel, col

from engine.caseformat import CURRENT as CASE_FORMAT
from engine.store.search import (
    FAMILY_DEFAULT,
    FAMILY_DERIVED,
    GIVEN_DEFAULT,
    GIVEN_DERIVED,
    fold,
    folded,
)
from engine.store.types import JsonType, UTCDateTime

#: FHIR Task statuses (https://hl7.org/fhir/valueset-task-status.html) used here, plus
#: ``declined``: the professional refused the task (FHIR ``rejected`` by that performer), but
#: the pathway still needs it done, so it stays open, with the coordinator, until reassigned.
TASK_STATUSES = ("requested", "accepted", "in-progress", "on-hold", "declined", "completed",
                 "cancelled", "failed")
OPEN_TASK_STATUSES = ("requested", "accepted", "in-progress", "on-hold", "declined")
#: SQL: the task is open, written with literal values so that PostgreSQL can match it to the
#: partial index ``ix_task_open_due`` even in a prepared statement's generic plan
OPEN_TASK_SQL = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_TASK_STATUSES))
#: the statuses as coordinators and professionals read them
TASK_STATUS_TITLES = {"requested": "à faire", "accepted": "prise en charge",
                      "in-progress": "en cours", "on-hold": "en attente",
                      "declined": "refusée", "completed": "terminée", "cancelled": "annulée",
                      "failed": "en échec"}
SEXES = ("F", "M", "U")


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def _json(**kw: Any) -> Any:
    return Field(sa_type=JsonType, **kw)


class Patient(SQLModel, table=True):
    __tablename__ = "patient"
    __table_args__ = (Index("ix_patient_search_family", "search_family"),
                      Index("ix_patient_search_given", "search_given"),
                      Index("ix_patient_birth_date", "birth_date"))
    id: int | None = Field(default=None, primary_key=True)
    ins: str | None = Field(default=None, unique=True, max_length=40,
                            description="INS (qualified national health identifier)")
    ins_oid: str | None = Field(default=None, max_length=64,
                                description="OID of the INS: NIR, NIA or their test ranges")
    identity_status: str | None = Field(
        default=None, max_length=10,
        description="identity reliability: PROV, RECUP, VALI or QUAL (qualified)")
    local_id: str | None = Field(default=None, unique=True, max_length=64)
    family_name: str = Field(max_length=120)
    given_names: str = Field(max_length=200)
    birth_date: date
    sex: str = Field(max_length=1)
    commune: str | None = Field(default=None, max_length=5, description="INSEE code")
    conditions: list[str] = _json(default_factory=list)
    condition_onsets: dict[str, str] = _json(default_factory=dict, description=(
        "onset date (ISO) of some of the conditions, by SNOMED CT code"))
    ald: bool | None = Field(default=None, description=(
        "long-term condition (ALD) fully covered by the Assurance Maladie; None: unknown"))
    created_at: datetime = _ts()

    # -- coordinator's search (issue 13, migration 0009): folded names (engine.store.search)
    search_family: str | None = Field(
        default=None, sa_type=folded(120),
        sa_column_kwargs={"default": FAMILY_DEFAULT, "info": FAMILY_DERIVED},
        description="family name folded (no accents, lower case): filled on insert")
    search_given: str | None = Field(
        default=None, sa_type=folded(200),
        sa_column_kwargs={"default": GIVEN_DEFAULT, "info": GIVEN_DERIVED},
        description="given names folded (no accents, lower case): filled on insert")


class PatientIdentifier(SQLModel, table=True):
    """An identifier a sending facility gives our patient (IPP with its assigning authority)."""

    __tablename__ = "patient_identifier"
    __table_args__ = (UniqueConstraint("system", "value"),
                      Index("ix_patient_identifier_patient", "patient_id"))
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    system: str = Field(max_length=200, description="assigning authority: OID or namespace")
    value: str = Field(max_length=64)
    type_code: str | None = Field(default=None, max_length=10, description="PI, MR, VN…")
    created_at: datetime = _ts()


class Professional(SQLModel, table=True):
    __tablename__ = "professional"
    id: int | None = Field(default=None, primary_key=True)
    rpps: str = Field(unique=True, max_length=11)
    family_name: str = Field(max_length=120)
    given_names: str = Field(max_length=200)
    profession: str = Field(max_length=60, index=True)
    email: str | None = Field(default=None, max_length=254)
    mssante: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    active: bool = True
    preferences: dict[str, Any] = _json(default_factory=dict)


class CareTeamMember(SQLModel, table=True):
    __tablename__ = "care_team"
    __table_args__ = (Index("ix_care_team_patient_role", "patient_id", "role"),
                      # a professional's patients (their task list): migration 0015
                      Index("ix_care_team_professional", "professional_id"))
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    professional_id: int = Field(foreign_key="professional.id")
    role: str = Field(max_length=60)
    start_date: date
    end_date: date | None = None


class PathwayVersion(SQLModel, table=True):
    __tablename__ = "pathway_version"
    __table_args__ = (UniqueConstraint("key", "version"),
                      UniqueConstraint("key", "content_hash"))
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, index=True)
    version: int = Field(description="Revision recorded by Parcours, 1, 2, … per key")
    declared_version: int = Field(description="The `version:` written in the file")
    title: str
    source: str
    content_hash: str = Field(max_length=64)
    published_at: datetime = _ts()


class SettingsVersion(SQLModel, table=True):
    """A published version of a territory's settings (parameter overrides) for one pathway."""

    __tablename__ = "territory_settings"
    __table_args__ = (UniqueConstraint("pathway_key", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    pathway_key: str = Field(max_length=80, index=True)
    version: int = Field(description="1, 2, … per pathway key")
    values: dict[str, Any] = _json(default_factory=dict,
                                   description="parameter → value, in its declared type")
    source: str = Field(description="the settings file as published")
    file: str = Field(max_length=255, description="its file name, for people")
    content_hash: str = Field(max_length=64, description="hash of the values (not the text)")
    #: the pathway version the values were checked against when published
    pathway_version_id: int = Field(foreign_key="pathway_version.id")
    published_by: str = Field(max_length=120)
    published_at: datetime = _ts()


class CaseRow(SQLModel, table=True):
    __tablename__ = "pathway_case"
    __table_args__ = (# the sweep's claim, in claim order, open cases only (migration 0016)
                      Index("ix_case_due_open", "next_due_at", "id",
                            postgresql_where=text("closed_at IS NULL"),
                            sqlite_where=text("closed_at IS NULL")),
                      Index("ix_case_patient", "patient_id", "pathway_key"),
                      # the coordinator's dashboard (migration 0009): open cases by pathway
                      # and the pathway of an open task, from the index alone
                      Index("ix_case_open_pathway", "id", "pathway_key",
                            postgresql_where=text("closed_at IS NULL"),
                            sqlite_where=text("closed_at IS NULL")))
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    pathway_version_id: int = Field(foreign_key="pathway_version.id")
    pathway_key: str = Field(max_length=80)
    #: the territory settings version whose values the case runs with (None: the defaults)
    settings_version_id: int | None = Field(default=None, foreign_key="territory_settings.id")
    active_states: list[str] = _json(default_factory=list)
    facts: dict[str, Any] = _json(default_factory=dict)
    #: what the case remembers beyond facts: ``Case.memory()`` (observation history…)
    memory: dict[str, Any] = _json(default_factory=dict)
    seq: int = 0
    next_due_at: datetime | None = _ts(default=None)
    opened_at: datetime = _ts()
    closed_at: datetime | None = _ts(default=None)
    close_reason: str | None = None
    row_version: int = 1
    #: the stored case format (``engine.caseformat``): older rows are upgraded when read
    format: int = Field(default=CASE_FORMAT)


class CaseStateRow(SQLModel, table=True):
    """One row per active state of each open case: the dashboard's counts by state.

    Kept by the database itself, in the writer's transaction: triggers on ``pathway_case``
    (migration 0009) rewrite a case's rows whenever its ``active_states`` or ``closed_at``
    change, whoever writes the case (the bulk writer, enrolment, closing, imports). A case in
    two parallel regions has two rows: "n dossiers dans l'état Y", never extra cases.
    """

    __tablename__ = "case_state"
    __table_args__ = (Index("ix_case_state_pathway_state", "pathway_key", "state", "case_id"),)
    case_id: int = Field(foreign_key="pathway_case.id", primary_key=True, ondelete="CASCADE")
    state: str = Field(primary_key=True, max_length=200)
    pathway_key: str = Field(max_length=80)


class CaseEvent(SQLModel, table=True):
    """Append-only history of a case."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case", "case_id", "id"),
                      # the coordinator's queue: cases whose timers failed (migration 0009)
                      Index("ix_case_event_advance_failed", "case_id", "id",
                            postgresql_where=text("kind = 'advance_failed'"),
                            sqlite_where=text("kind = 'advance_failed'")))
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="pathway_case.id")
    at: datetime = _ts(description="When it happened (effective time)")
    recorded_at: datetime = _ts()
    actor_kind: str = Field(max_length=20, description="professional, coordinator or system")
    actor_id: int | None = None
    kind: str = Field(max_length=40)
    from_state: str | None = None
    to_state: str | None = None
    data: dict[str, Any] = _json(default_factory=dict)


class EventReceipt(SQLModel, table=True):
    """One row per inbound event id applied: delivering it again changes nothing."""

    __tablename__ = "event_receipt"
    event_id: str = Field(primary_key=True, max_length=120)
    kind: str = Field(max_length=40)
    recorded_at: datetime = _ts()


class ObservationRow(SQLModel, table=True):
    __tablename__ = "observation"
    __table_args__ = (Index("ix_observation_patient_code", "patient_id", "code",
                            "effective_at"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    code: str = Field(max_length=40)
    system: str = Field(default="loinc", max_length=20)
    value: float | None = None
    value_text: str | None = None
    unit: str | None = Field(default=None, max_length=20)
    effective_at: datetime = _ts()
    recorded_at: datetime = _ts()
    source: str | None = Field(default=None, max_length=120)
    interpretation: str | None = Field(default=None, max_length=20,
                                       description="abnormal flags (HL7 OBX-8: H, L, A…)")


class TaskRow(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("case_id", "ref"),
                      Index("ix_task_status_due", "status", "due_at"),
                      Index("ix_task_assignee", "assignee_id", "status"),
                      # the coordinator's queue (migration 0015): open tasks oldest due
                      # first, and tasks whose role nobody holds, read in order from an index
                      Index("ix_task_open_due", "due_at", "id", "assignee_id",
                            postgresql_where=text(OPEN_TASK_SQL),
                            sqlite_where=text(OPEN_TASK_SQL)),
                      Index("ix_task_vacant", "due_at", "id",
                            postgresql_where=text("unassigned_role"),
                            sqlite_where=text("unassigned_role = 1")))
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="pathway_case.id")
    ref: str = Field(max_length=120)
    key: str = Field(max_length=80)
    state: str = Field(description="The state that owns the task")
    title: str
    description: str | None = None
    role: str = Field(max_length=60)
    assignee_id: int | None = Field(default=None, foreign_key="professional.id")
    unassigned_role: bool = Field(default=False,
                                  description="Nobody holds the role: sent to the coordinator")
    status: str = Field(default="requested", max_length=20)
    created_at: datetime = _ts()
    due_at: datetime = _ts()
    reminder_at: datetime | None = _ts(default=None)
    escalation_at: datetime | None = _ts(default=None)
    reminded_at: datetime | None = _ts(default=None)
    escalated_at: datetime | None = _ts(default=None)
    expected_result: dict[str, Any] = _json(default_factory=dict)
    result: dict[str, Any] | None = _json(default=None)
    closed_at: datetime | None = _ts(default=None)
    closed_by: int | None = None
    close_reason: str | None = None

    # -- web workspace (issue 12, migration 0004) ------------------------------------------
    accepted_at: datetime | None = _ts(default=None, description="« Je m'en occupe »")
    declined_by: int | None = Field(default=None, foreign_key="professional.id")
    declined_at: datetime | None = _ts(default=None)
    decline_reason: str | None = Field(default=None, max_length=500)


def task_is_open() -> Any:
    """SQL: ``task.status IN ('requested', …)`` with the open statuses as literals (not bound
    parameters), which lets PostgreSQL use the partial index ``ix_task_open_due``."""
    return col(TaskRow.status).in_([literal_column(f"'{s}'") for s in OPEN_TASK_STATUSES])


class TimerRow(SQLModel, table=True):
    __tablename__ = "timer"
    __table_args__ = (UniqueConstraint("case_id", "state", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="pathway_case.id", index=True)
    name: str = Field(max_length=80)
    state: str
    fire_at: datetime = _ts()
    every: str | None = Field(default=None, max_length=40)
    anchor_at: datetime | None = _ts(
        default=None, description="Start of a recurring timer's schedule (no drift)")


class OutboxRow(SQLModel, table=True):
    """One message to send, written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=40)
    case_id: int | None = Field(default=None, foreign_key="pathway_case.id")
    task_id: int | None = Field(default=None, foreign_key="task.id")
    recipient_id: int | None = Field(default=None, foreign_key="professional.id")
    payload: dict[str, Any] = _json(default_factory=dict)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    created_at: datetime = _ts()
    next_attempt_at: datetime = _ts()
    sent_at: datetime | None = _ts(default=None)
    last_error: str | None = None

    # -- notifications (issue 6, migration 0003) -------------------------------------------
    channel: str | None = Field(default=None, max_length=20,
                                description="Channel the message went out on (or last tried)")


# -- notifications (issue 6, migration 0003): find a task's messages (skip, cancel) ----------
Index("ix_outbox_task", OutboxRow.task_id)  # type: ignore[arg-type]


class InboxRow(SQLModel, table=True):
    """A durable inbound event (observation, admission, discharge, task completion, pathway
    event) waiting to be applied in order; a failed one stays here with its error."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_status", "status", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=120)
    kind: str = Field(max_length=40, description="observation, admission, discharge, "
                                                  "task_completed or event")
    patient_ref: str | None = Field(default=None, max_length=64)
    case_id: int | None = None
    task_id: int | None = None
    payload: dict[str, Any] = _json(default_factory=dict)
    effective_at: datetime = _ts()
    received_at: datetime = _ts()
    source: str | None = Field(default=None, max_length=120)
    actor_kind: str = Field(default="system", max_length=20)
    actor_id: int | None = None
    status: str = Field(default="pending", max_length=20,
                        description="pending, applied, duplicate or failed")
    attempts: int = 0
    error: str | None = None
    processed_at: datetime | None = _ts(default=None)


class SignInToken(SQLModel, table=True):
    """A one-time sign-in link: only its SHA-256 is kept; used once, then ``used_at`` is set."""

    __tablename__ = "web_sign_in_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    professional_id: int = Field(foreign_key="professional.id", index=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(default=None)


class SignInAttempt(SQLModel, table=True):
    """One sign-in request, by hashed address and by hashed client IP: the rate limit."""

    __tablename__ = "web_sign_in_attempt"
    __table_args__ = (Index("ix_sign_in_attempt_key", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, description="'address:' or 'ip:' + SHA-256")
    at: datetime = _ts()


class AccessLogRow(SQLModel, table=True):
    """Append-only: every display of a patient's page or of a task (who, when, what, where)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_at", "at"),
                      Index("ix_access_log_patient", "patient_id", "at"))
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    professional_id: int = Field(foreign_key="professional.id")
    action: str = Field(max_length=40, description="read_task, read_patient")
    patient_id: int | None = Field(default=None, foreign_key="patient.id")
    task_id: int | None = Field(default=None, foreign_key="task.id")
    client: str | None = Field(default=None, max_length=64, description="Client IP address")


# -- OpenID Connect sign-in (issue 12, migration 0007) ------------------------------------
class UsedSignInKey(SQLModel, table=True):
    """A sign-in secret already used (an OpenID Connect state or nonce, hashed): presenting
    it again is refused. Kept until it could no longer be accepted anyway, then purged."""

    __tablename__ = "web_used_sign_in_key"
    key_hash: str = Field(primary_key=True, max_length=64, description="SHA-256, hex")
    purpose: str = Field(max_length=20, description="oidc_state or oidc_nonce")
    used_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)


# -- FHIR REST clients (issue 14, migration 0011) -----------------------------------------
class FhirClient(SQLModel, table=True):
    """A system allowed to call the FHIR REST interface (OAuth2 client credentials).

    The secret is never stored: only its SHA-256 (it is 256 random bits, shown once)."""

    __tablename__ = "fhir_client"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=80)
    client_id: str = Field(unique=True, max_length=64)
    secret_hash: str = Field(max_length=64, description="SHA-256 of the secret, hex")
    scopes: list[str] = _json(default_factory=list, description="SMART system/… scopes")
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(default=None)


class FhirToken(SQLModel, table=True):
    """An access token issued to a FHIR client (only its SHA-256 is kept), short-lived."""

    __tablename__ = "fhir_token"
    token_hash: str = Field(primary_key=True, max_length=64, description="SHA-256, hex")
    client_id: int = Field(foreign_key="fhir_client.id", index=True)
    scope: str = Field(max_length=2000)
    issued_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)


# -- migration of running cases (issue 15, migration 0013) ----------------------------------
class MigrationRun(SQLModel, table=True):
    """One ``parcours migrate apply``: resumable (its cursor and counts are written in the
    transaction of each batch) and the history a rollback reads."""

    __tablename__ = "migration_run"
    id: int | None = Field(default=None, primary_key=True)
    pathway_key: str = Field(max_length=80, index=True)
    to_version_id: int = Field(foreign_key="pathway_version.id")
    mapping_file: str | None = None
    mapping_hash: str = Field(max_length=64)
    mapping_text: str | None = None
    status: str = Field(default="running", max_length=20,
                        description="running, done, rolled_back (or partly_rolled_back)")
    cursor: int = Field(default=0, description="the last case id looked at")
    counts: dict[str, Any] = _json(default_factory=dict)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(default=None)
    rolled_back_at: datetime | None = _ts(default=None)


class MigrationCase(SQLModel, table=True):
    """A case a run moved, with what a rollback needs to move it back exactly."""

    __tablename__ = "migration_case"
    __table_args__ = (UniqueConstraint("run_id", "case_id"),
                      Index("ix_migration_case_case", "case_id"))
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="migration_run.id")
    case_id: int = Field(foreign_key="pathway_case.id")
    from_version_id: int = Field(foreign_key="pathway_version.id")
    #: the case before (``Case.to_dict``) and its open tasks' kinds and states
    before: dict[str, Any] = _json(default_factory=dict)
    #: refs of the tasks the migration created, cancelled, retargeted
    changes: dict[str, Any] = _json(default_factory=dict)
    row_version: int = Field(description="the case's row version the migration left")
    status: str = Field(default="migrated", max_length=20, description="migrated or rolled_back")


ALL_TABLES = [Patient, PatientIdentifier, Professional, CareTeamMember, PathwayVersion,
              SettingsVersion, CaseRow, CaseStateRow, CaseEvent, EventReceipt, ObservationRow,
              TaskRow, TimerRow, OutboxRow, InboxRow, SignInToken, SignInAttempt, AccessLogRow,
              UsedSignInKey, FhirClient, FhirToken, MigrationRun, MigrationCase]


# -- Core tables ---------------------------------------------------------------------------
# The same tables for SQLAlchemy Core statements (bulk inserts, multi-row updates, plain-row
# reads): typed columns without the ORM's per-row bookkeeping. One place, one ``ignore``:
# SQLModel does not declare ``__table__`` to type checkers.
CASE_TABLE: Any = CaseRow.__table__  # type: ignore[attr-defined]
CASE_STATE_TABLE: Any = CaseStateRow.__table__  # type: ignore[attr-defined]
TASK_TABLE: Any = TaskRow.__table__  # type: ignore[attr-defined]
TIMER_TABLE: Any = TimerRow.__table__  # type: ignore[attr-defined]
EVENT_TABLE: Any = CaseEvent.__table__  # type: ignore[attr-defined]
OUTBOX_TABLE: Any = OutboxRow.__table__  # type: ignore[attr-defined]
INBOX_TABLE: Any = InboxRow.__table__  # type: ignore[attr-defined]
PATIENT_TABLE: Any = Patient.__table__  # type: ignore[attr-defined]
PROFESSIONAL_TABLE: Any = Professional.__table__  # type: ignore[attr-defined]
OBSERVATION_TABLE: Any = ObservationRow.__table__  # type: ignore[attr-defined]
CARE_TEAM_TABLE: Any = CareTeamMember.__table__  # type: ignore[attr-defined]
USED_SIGN_IN_KEY_TABLE: Any = UsedSignInKey.__table__  # type: ignore[attr-defined]
MIGRATION_RUN_TABLE: Any = MigrationRun.__table__  # type: ignore[attr-defined]
MIGRATION_CASE_TABLE: Any = MigrationCase.__table__  # type: ignore[attr-defined]


# -- coordinator's search (issue 13): a name changed through the ORM is folded again -------
@event.listens_for(Patient, "before_update")
def _refold_names(mapper: Any, connection: Any, target: Patient) -> None:
    target.search_family = fold(target.family_name)
    target.search_given = fold(target.given_names)
