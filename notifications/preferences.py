"""Each professional's notification preferences (``col(Professional.preferences)`` JSON).

::

    {"channels": ["sms", "mssante", "email"],        # in order of preference
     "mode": "immediate",                            # or "digest": one message a day
     "quiet_hours": {"sms": {"start": "20:00", "end": "08:00", "days": ["dimanche"]},
                     "email": null}}                 # null: any time

Every key is optional. The defaults come from ``NotificationSettings``:
channels MSSanté, e-mail, SMS; immediate; no SMS from 20:00 to 08:00 nor on
Sundays (Europe/Paris); e-mail any time. A message goes out on the first
preferred channel that is configured, reaches the professional (they have
that address) and is not in its quiet hours; when every such channel is
quiet, it waits until the earliest one opens.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from notifications.channels import registry
from notifications.exceptions import PreferencesError
from notifications.settings import CHANNELS, NotificationSettings

_DAY_NAMES = {
    **{n: i for i, n in enumerate(("lundi", "mardi", "mercredi", "jeudi", "vendredi",
                                    "samedi", "dimanche"), start=1)},
    **{n: i for i, n in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                    "saturday", "sunday"), start=1)},
}
ALLOWED = ("{channels: [mssante|email|sms|webhook|console…], mode: immediate|digest, "
           "quiet_hours: {CANAL: {start: 'HH:MM', end: 'HH:MM', days: [dimanche…]} | null}}")


class QuietHours(BaseModel):
    """No message on a channel from ``start`` to ``end`` (may span midnight) nor on ``days``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = time(0, 0)
    end: time = time(0, 0)
    days: tuple[int, ...] = Field((), description="Days without messages, ISO 8601: "
                                                  "1 = Monday … 7 = Sunday")

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> tuple[int, ...]:
        return tuple(_weekday(v) for v in value)

    def _in_window(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        if self.start > self.end:
            return moment >= self.start or moment < self.end
        return False

    def quiet_until(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """None when ``moment`` is not quiet, else the first moment it no longer is."""
        t = moment.astimezone(zone)
        for _ in range(16):
            if t.isoweekday() in self.days:
                t = datetime.combine(t.date() + timedelta(days=1), time(0), tzinfo=zone)
            elif self._in_window(t.time()):
                day = t.date() + timedelta(days=1) if self.start > self.end and \
                    t.time() >= self.start else t.date()
                t = datetime.combine(day, self.end, tzinfo=zone)
            else:
                return None if t == moment.astimezone(zone) else t
        raise PreferencesError("heures de silence couvrant toute la semaine",
                               "au moins un moment ouvert par semaine")


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[str, ...]
    mode: Literal["immediate", "digest"] = "immediate"
    quiet_hours: dict[str, QuietHours | None] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise ValueError(f"canal inconnu {unknown[0]!r} (canaux : {', '.join(CHANNELS)})")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_channels(cls, value: dict[str, QuietHours | None]) -> dict[str, Any]:
        cls._channels(tuple(value))
        return value

    @property
    def digest(self) -> bool:
        return self.mode == "digest"

    def quiet_until(self, channel: str, moment: datetime, zone: tzinfo) -> datetime | None:
        quiet = self.quiet_hours.get(channel)
        return quiet.quiet_until(moment, zone) if quiet is not None else None


def _weekday(value: Any) -> int:
    if isinstance(value, int) and 1 <= value <= 7:
        return value
    if isinstance(value, str) and value.strip().lower() in _DAY_NAMES:
        return _DAY_NAMES[value.strip().lower()]
    raise ValueError(f"jour inconnu {value!r} (lundi…dimanche, monday…sunday ou 1…7)")


def default_quiet_hours(settings: NotificationSettings) -> dict[str, QuietHours | None]:
    return {registry.SMS: QuietHours(start=settings.sms_quiet_start, end=settings.sms_quiet_end,
                              days=settings.sms_quiet_days)}


def parse_preferences(raw: dict[str, Any] | None,
                      settings: NotificationSettings) -> Preferences:
    """The preferences of one professional, defaults filled in; PreferencesError if invalid."""
    raw = dict(raw or {})
    quiet = default_quiet_hours(settings)
    if not isinstance(raw.get("quiet_hours", {}), dict):
        raise PreferencesError("quiet_hours n'est pas un objet", ALLOWED)
    quiet.update(raw.pop("quiet_hours", {}) or {})
    raw.setdefault("channels", settings.default_channels)
    try:
        return Preferences(**raw, quiet_hours=quiet)
    except (ValidationError, TypeError) as exc:
        raise PreferencesError(_first_problem(exc), ALLOWED) from exc


def _first_problem(exc: ValidationError | TypeError) -> str:
    if isinstance(exc, TypeError):
        return str(exc)
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where} : {error['msg']}" if where else error["msg"]


def usable_now(prefs: Preferences, candidates: list[str], now: datetime,
               zone: tzinfo) -> tuple[list[str], datetime | None]:
    """Channels of ``candidates`` open at ``now`` (in order) and, if none, when one opens."""
    open_now: list[str] = []
    opens: list[datetime] = []
    for channel in candidates:
        until = prefs.quiet_until(channel, now, zone)
        if until is None:
            open_now.append(channel)
        else:
            opens.append(until)
    return open_now, (min(opens) if not open_now and opens else None)
