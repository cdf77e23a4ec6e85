"""Typed settings, read once at the edge (environment prefix ``PARCOURS_``) and passed down."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_", env_file=None, extra="ignore")

    database_url: str = Field(
        "sqlite:///parcours.db",
        description="SQLAlchemy URL (PostgreSQL: postgresql+psycopg://user@host/db) or the "
                    "path of a SQLite file (parcours-out/demo.db)")
    timezone: str = Field("Europe/Paris", description="The territory's time zone")
    base_url: str = Field("http://127.0.0.1:8000", description="Links in messages point here")
    batch_size: int = Field(500, ge=1, description="Cases advanced per batch")
    max_retries: int = Field(5, ge=0, description="Retries of a transaction on a conflict")
    advance_retry_minutes: int = Field(
        60, ge=1, description="A case whose timers fail to apply is retried this much later")
    echo_sql: bool = False
    mllp_host: str = Field("127.0.0.1", description="HL7 v2 MLLP listener: address")
    mllp_port: int = Field(2575, ge=0, le=65535, description="HL7 v2 MLLP listener: port")
    mllp_tls_cert: str | None = Field(None, description="MLLP over TLS: certificate (PEM)")
    mllp_tls_key: str | None = Field(None, description="MLLP over TLS: private key (PEM)")

    @field_validator("database_url")
    @classmethod
    def _plain_path_is_sqlite(cls, value: str) -> str:
        """A plain file path is a SQLite database; a malformed URL is kept as given, for
        ``engine.store.db.make_engine`` to refuse with a clear message."""
        from engine.store.urls import database_url

        return database_url(value)
