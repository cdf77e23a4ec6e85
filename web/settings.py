"""Typed settings of the web workspace (environment prefix ``PARCOURS_WEB_``).

Read once at the edge (``parcours web``, or each uvicorn worker's app factory) and passed
down. The secret key signs session cookies: in production (PostgreSQL) it is required
(``PARCOURS_WEB_SECRET_KEY``, at least 32 characters, the same on every worker and
machine); with the embedded SQLite default it is generated once and kept in a file next to
the database (``parcours.db`` → ``parcours.web-secret``, mode 0600), so the demo needs no
set-up. ``PARCOURS_WEB_OIDC_*`` is reserved for the OpenID Connect sign-in (``web.oidc``).
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from web.exceptions import WebConfigError

MIN_SECRET = 32


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_WEB_", env_file=None,
                                      extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", description="Address uvicorn listens on")
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    base_url: str = Field("http://127.0.0.1:8000", description="Public address (links, "
                          "Secure cookies when https)",
                          validation_alias=AliasChoices("PARCOURS_WEB_BASE_URL",
                                                        "PARCOURS_BASE_URL", "base_url"))
    secret_key: SecretStr | None = Field(None, description="Signs the session cookies")
    forwarded_allow_ips: str = Field("127.0.0.1", description="Proxies trusted for "
                                     "X-Forwarded-For (the client IP of the access log)")
    session_hours: float = Field(12.0, gt=0, description="A session lasts this long")
    link_minutes: float = Field(15.0, gt=0, description="A sign-in link is valid this long")
    sign_in_window_minutes: float = Field(15.0, gt=0, description="Rate-limit window")
    sign_in_per_address: int = Field(5, ge=1, description="Requests per address per window")
    sign_in_per_ip: int = Field(30, ge=1, description="Requests per client IP per window")
    now: datetime | None = Field(None, description="Freeze the clock at this moment (the "
                                 "demo's last simulated day); never in production")
    timezone: str = Field("Europe/Paris", validation_alias=AliasChoices(
        "PARCOURS_WEB_TIMEZONE", "PARCOURS_TIMEZONE", "timezone"))
    prefect_api_url: str = Field("", description="Prefect's REST API, read by the "
                                 "coordinator's dashboard (latest flow runs); empty: not shown",
                                 validation_alias=AliasChoices("PARCOURS_WEB_PREFECT_API_URL",
                                                               "PREFECT_API_URL",
                                                               "prefect_api_url"))
    counts_ttl: float = Field(30.0, ge=0, le=3600, description="Seconds the dashboard's "
                              "territory-wide counts and charts are kept by each web process "
                              "before they are computed again (0: every request)")
    prefect_timeout: float = Field(1.5, gt=0, description="Seconds the dashboard waits for "
                                   "Prefect before saying it is unreachable")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.lower().startswith("https://")


def secret_file(database_url: str) -> Path | None:
    """Where the embedded default keeps its generated key; None if not a SQLite file."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or \
            url.database == ":memory:":
        return None
    db = Path(url.database)
    return db.with_name(db.stem + ".web-secret")


def resolve_secret(settings: WebSettings, database_url: str) -> str:
    """The key that signs cookies: from settings, or generated next to a SQLite file."""
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value()
        if len(key) < MIN_SECRET:
            raise WebConfigError(f"PARCOURS_WEB_SECRET_KEY : {len(key)} caractères ; au "
                                 f"moins {MIN_SECRET} (par exemple : python -c \"import "
                                 "secrets; print(secrets.token_urlsafe(48))\")")
        return key
    path = secret_file(database_url)
    if path is None:
        raise WebConfigError("PARCOURS_WEB_SECRET_KEY est obligatoire en production (base "
                             "autre que SQLite) : la même clé sur tous les serveurs web")
    return _read_or_create(path)


def _read_or_create(path: Path) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()
