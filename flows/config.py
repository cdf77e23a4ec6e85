"""Settings of the orchestration layer (environment prefix ``PARCOURS_FLOWS_``).

Read once where a command or a deployment starts, then passed down. The
database and the territory's time zone stay in ``engine.settings.Settings``.

Schedules (``parcours serve``): every interval is in minutes; daily jobs are
cron expressions in the territory's zone (Europe/Paris by default), so 08:00
stays 08:00 across daylight-saving changes.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FlowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_FLOWS_", env_file=None,
                                      extra="ignore")

    batch_size: int = Field(500, ge=1, description="Cases per advance batch (one Prefect task)")
    workers: int = Field(2, ge=1, le=64, description="Batches advanced at the same time")
    page_size: int = Field(20_000, ge=1, description="Due case ids listed per page (memory)")
    inbox_batch: int = Field(200, ge=1, description="Inbound events per Prefect task")
    escalation_batch: int = Field(500, ge=1, description="Tasks per escalation batch")
    dispatch_batch: int = Field(200, ge=1, description="Outbox rows per dispatch batch")
    enroll_batch: int = Field(1000, ge=1, description="Patients per enrolment transaction")
    auto_enroll: list[str] | None = Field(
        None, description="Pathway keys enrol_eligible may enrol into; default: every "
                          "published pathway that declares an eligibility expression")
    task_retries: int = Field(2, ge=0, description="Prefect retries of a batch on a "
                                                   "transient database error")
    retry_delay_seconds: float = Field(2.0, ge=0)

    # schedules of `parcours serve`
    timezone: str = Field("Europe/Paris")
    advance_every_minutes: int = Field(15, ge=1)
    inbound_every_minutes: int = Field(1, ge=1)
    notify_every_minutes: int = Field(1, ge=1)
    escalation_cron: str = Field("0 8 * * *", description="Daily at 08:00")
    eligibility_cron: str = Field("30 2 * * *", description="Nightly at 02:30")

    # the local Prefect server `parcours serve` starts when PREFECT_API_URL is not set
    server_host: str = Field("127.0.0.1")
    server_port: int = Field(4200, ge=1, le=65535)
