"""Typed settings of the notifications (environment prefix ``PARCOURS_NOTIFY_``).

Read once at the edge (the CLI, the Prefect flow) and passed down. Channel
addresses and secrets are Apprise-style URLs held as secrets, never in code:

========================  =====================================================
``EMAIL_URL``             ordinary e-mail (not secure: no patient data is sent),
                          e.g. ``mailtos://user:pass@smtp.example.fr:587?from=cpts@example.fr``
``MSSANTE_URL``           MSSanté, the secure health messaging: an SMTP account
                          at the operator, e.g. ``mailtos://…@smtp.mssante.example?from=…``
``SMS_URL``               an Apprise SMS gateway URL with ``{phone}`` where the
                          number goes (E.164), e.g. ``jsons://gw.example/sms?:to={phone}``
``WEBHOOK_URL``           a ``json://``/``jsons://`` endpoint (the recipient's RPPS is
                          sent in the body)
``CONSOLE_DIR``           a folder where the console channel writes each message
========================  =====================================================

The console channel is on when asked (``CONSOLE=true``) or, by default, when
no other channel is configured: the embedded demo then shows what would be
sent. ``BASE_URL`` (links) is read from ``PARCOURS_BASE_URL`` like the
engine's settings, or ``PARCOURS_NOTIFY_BASE_URL``.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from notifications.channels import registry as channel_names

#: Channel names, as professionals write them in their preferences.
CHANNELS = channel_names.NAMES


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_NOTIFY_", env_file=None,
                                      extra="ignore", populate_by_name=True)

    base_url: str = Field("http://127.0.0.1:8000", description="Links in messages point here",
                          validation_alias=AliasChoices("PARCOURS_NOTIFY_BASE_URL",
                                                        "PARCOURS_BASE_URL", "base_url"))
    sender_name: str = Field("CPTS · Parcours", description="Shown as the messages' sender")

    email_url: SecretStr | None = Field(None, description="mailto:// or mailtos:// URL")
    mssante_url: SecretStr | None = Field(None, description="mailtos:// URL of the MSSanté "
                                                            "operator's SMTP server")
    email_secure: bool = Field(False, description="True only if the e-mail server is itself "
                                                  "a secure health messaging service")
    sms_url: SecretStr | None = Field(None, description="Apprise URL with {phone}")
    webhook_url: SecretStr | None = Field(None, description="json:// or jsons:// URL")
    webhook_secure: bool = Field(False, description="True if the webhook is a secure system")
    console: bool | None = Field(None, description="Console/file channel; default: on when "
                                                   "no other channel is configured")
    console_dir: Path | None = Field(None, description="Folder for the console channel's files")
    console_stdout: bool = Field(False, description="Console channel also prints messages")
    console_secure: bool = Field(False, description="Render console messages as for MSSanté")
    message_id_domain: str | None = Field(None, description="Right part of Message-IDs "
                                                            "(default: the sender's domain)")
    smtp_timeout: float = Field(10.0, gt=0, description="Seconds per SMTP operation")

    default_channels: list[str] = Field([channel_names.MSSANTE, channel_names.EMAIL,
                                         channel_names.SMS],
                                        description="Order used when a professional has none")
    sms_quiet_start: time = Field(time(20, 0), description="No SMS from this time…")
    sms_quiet_end: time = Field(time(8, 0), description="…until this time (Europe/Paris)")
    sms_quiet_days: list[str] = Field(["dimanche"], description="Days without SMS")
    digest_time: time = Field(time(7, 30), description="Daily digests are made at this time "
                                                       "(Europe/Paris)")
    timezone: str = Field("Europe/Paris", validation_alias=AliasChoices(
        "PARCOURS_NOTIFY_TIMEZONE", "PARCOURS_TIMEZONE", "timezone"))

    batch_size: int = Field(100, ge=1, description="Outbox rows claimed per batch")
    max_attempts: int = Field(6, ge=1, description="Attempts before a row is dead-lettered")
    backoff_base: float = Field(60.0, gt=0, description="Seconds before the first retry")
    backoff_factor: float = Field(2.0, ge=1, description="Each retry waits this much longer")
    backoff_max: float = Field(6 * 3600.0, gt=0, description="Longest wait between attempts")
    backoff_jitter: float = Field(0.1, ge=0, le=1, description="Spread of the wait, derived "
                                                               "from the message's key")
    lease_seconds: float = Field(900.0, gt=0, description="A claimed row not recorded within "
                                                          "this time is claimed again")
    templates_dir: Path | None = Field(None, description="A CPTS's own templates, looked up "
                                                         "before the built-in ones")

    def configured(self) -> list[str]:
        """Names of the channels that can be used, in ``CHANNELS`` order."""
        urls = {channel_names.MSSANTE: self.mssante_url, channel_names.EMAIL: self.email_url,
                channel_names.SMS: self.sms_url, channel_names.WEBHOOK: self.webhook_url}
        names = [name for name, url in urls.items() if url is not None]
        if self.console or (self.console is None and not names):
            names.append(channel_names.CONSOLE)
        return names
