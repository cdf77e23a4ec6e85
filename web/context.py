"""What every request handler needs, built once per process by ``create_app``.

Nothing here changes after start-up: sessions are in signed cookies, sign-in links and
rate limits in the database, so any worker can serve any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from starlette.requests import Request

from engine.clock import Clock
from engine.store.service import CaseService
from notifications.channels import Channel
from notifications.settings import NotificationSettings
from web.settings import WebSettings
from web.snapshots import Snapshots


@dataclass
class WebContext:
    settings: WebSettings
    secret: str
    clock: Clock
    engine: Engine
    service: CaseService
    notify_settings: NotificationSettings
    #: Channels for sign-in links; None: built from ``notify_settings`` on first use.
    channels: Mapping[str, Channel] | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Paris"))
    #: The OpenID provider's name on the sign-in page (« Se connecter avec … »); None: off.
    oidc_provider: str | None = None
    #: the dashboard's territory-wide counts, kept ``settings.counts_ttl`` seconds
    counts: Snapshots = field(init=False)

    def __post_init__(self) -> None:
        self.counts = Snapshots(self.settings.counts_ttl)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()


def context_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def client_ip(request: Request) -> str:
    return request.client.host if request.client is not None else "inconnu"
