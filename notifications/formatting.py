"""French dates, phone numbers and the message token derived from an idempotency key.

Dates are written by hand rather than through the C locale (``fr_FR`` may not
be installed on a server): ``lundi 19 janvier 2026 à 09:00``, Europe/Paris.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, tzinfo

from engine.clock import PARIS

DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")


def local(moment: datetime, zone: tzinfo = PARIS) -> datetime:
    return moment.astimezone(zone)


def date_fr(value: date | datetime, zone: tzinfo = PARIS) -> str:
    """``lundi 19 janvier 2026`` (``1er`` for the first of the month)."""
    day = local(value, zone).date() if isinstance(value, datetime) else value
    number = "1er" if day.day == 1 else str(day.day)
    return f"{DAYS[day.weekday()]} {number} {MONTHS[day.month - 1]} {day.year}"


def datetime_fr(value: datetime, zone: tzinfo = PARIS) -> str:
    """``lundi 19 janvier 2026 à 09:00``; a deadline at the end of its day (23:59:59, as
    deadlines in whole days are) is the day alone: ``lundi 19 janvier 2026``."""
    moment = local(value, zone)
    if (moment.hour, moment.minute, moment.second) == (23, 59, 59):
        return date_fr(moment, zone)
    return f"{date_fr(moment, zone)} à {moment:%H:%M}"


def short_date_fr(value: date | datetime, zone: tzinfo = PARIS) -> str:
    """``19/01/2026``: for SMS, where every character counts."""
    day = local(value, zone).date() if isinstance(value, datetime) else value
    return f"{day:%d/%m/%Y}"


def e164(phone: str) -> str | None:
    """A French number in E.164 (``06 11 22 33 44`` → ``+33611223344``); None if not one."""
    digits = re.sub(r"[\s.\-()]", "", phone)
    if re.fullmatch(r"\+\d{8,15}", digits):
        return digits
    if re.fullmatch(r"0033\d{9}", digits):
        return "+" + digits[2:]
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        return "+33" + digits[1:]
    return None


def message_token(idempotency_key: str) -> str:
    """A fixed-length, opaque, URL- and header-safe token for an idempotency key.

    It travels as the ``Idempotency-Key`` header and in the e-mail
    ``Message-ID``: the same outbox row always yields the same token, so a
    receiver can drop a resend after a crash between sending and recording.
    """
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


def message_id(idempotency_key: str, domain: str) -> str:
    """RFC 5322 ``Message-ID`` derived from the key: ``<parcours.TOKEN@domain>``."""
    return f"<parcours.{message_token(idempotency_key)}@{domain}>"


def one_line(text: str) -> str:
    """Collapse whitespace (e-mail subjects and SMS must not carry line breaks)."""
    return " ".join(text.split())
