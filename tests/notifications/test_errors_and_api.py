"""Third-party errors mapped at the boundary; the exception tree; the public API."""

from __future__ import annotations

import inspect
import smtplib
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest

import notifications
import notifications.exceptions as exceptions
from engine.exceptions import ParcoursError
from notifications.channels.base import OutgoingMessage
from notifications.channels.gateway import AppriseChannel, classify
from notifications.channels.smtp import SmtpChannel, SmtpConfig, parse_url, translate
from notifications.exceptions import (
    ChannelConfigError,
    PermanentDeliveryError,
    TemplateRenderError,
    TransientDeliveryError,
)
from notifications.render import Renderer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("error", "kind", "code"), [
    (smtplib.SMTPRecipientsRefused({"a@b.fr": (550, b"5.1.1 unknown")}), "permanent", 550),
    (smtplib.SMTPRecipientsRefused({"a@b.fr": (450, b"mailbox busy")}), "transient", 450),
    (smtplib.SMTPDataError(451, b"try later"), "transient", 451),
    (smtplib.SMTPDataError(554, b"rejected"), "permanent", 554),
    (smtplib.SMTPSenderRefused(553, b"sender refused", "x@y.fr"), "permanent", 553),
    (smtplib.SMTPConnectError(421, b"too busy"), "transient", 421),
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "transient", 535),
    (smtplib.SMTPServerDisconnected("gone"), "transient", None),
    (ConnectionRefusedError(111, "refused"), "transient", None),
    (TimeoutError("timed out"), "transient", None),
    (ssl.SSLCertVerificationError("bad cert"), "transient", None),
    (OSError(101, "network unreachable"), "transient", None),
])
def test_smtp_errors_are_translated(error: BaseException, kind: str, code: int | None) -> None:
    mapped = translate("email", error)
    expected = TransientDeliveryError if kind == "transient" else PermanentDeliveryError
    assert type(mapped) is expected and mapped.code == code
    assert mapped.retryable is (kind == "transient") and mapped.channel == "email"


@pytest.mark.parametrize(("log", "kind", "code"), [
    ("WARNING - Failed to send JSON POST notification: Service Unavailable, error=503.",
     "transient", 503),
    ("WARNING - Failed to send JSON POST notification: Too Many Requests, error=429.",
     "transient", 429),
    ("WARNING - Failed to send JSON POST notification: Not Found, error=404.", "permanent",
     404),
    ("WARNING - A Connection error occurred sending JSON notification to h.", "transient",
     None),
    ("", "transient", None),
])
def test_apprise_failures_are_classified_from_its_log(log: str, kind: str,
                                                      code: int | None) -> None:
    mapped = classify("webhook", log)
    assert mapped.retryable is (kind == "transient") and mapped.code == code


def test_jinja_errors_become_template_errors() -> None:
    renderer = Renderer(loader=jinja2.DictLoader({"email/x.txt": "{% if %}", "sms/y.txt": "ok"}))
    with pytest.raises(TemplateRenderError, match=r"modèle introuvable") as missing:
        renderer.sms("task_assigned", {})
    assert isinstance(missing.value.__cause__, jinja2.TemplateNotFound)
    with pytest.raises(TemplateRenderError, match=r"ligne 1") as syntax:
        renderer.render_string("{% if %}", {})
    assert isinstance(syntax.value.__cause__, jinja2.TemplateSyntaxError)
    assert not syntax.value.retryable


@pytest.mark.parametrize(("url", "problem"), [
    ("smtp://host", "mailto:// ou mailtos://"),
    ("mailto://127.0.0.1:25", "avec l'adresse d'expédition"),
    ("mailto://127.0.0.1:25?from=pas-une-adresse", "avec l'adresse d'expédition"),
])
def test_wrong_smtp_urls_are_configuration_errors(url: str, problem: str) -> None:
    with pytest.raises(ChannelConfigError, match=problem):
        parse_url("email", url)


def test_smtp_urls_are_read_by_apprise() -> None:
    config = parse_url("mssante", "mailtos://cpts:secret@smtp.mssante.example:587"
                                  "?from=cpts@cpts.mssante.fr")
    assert config == SmtpConfig("smtp.mssante.example", 587, "starttls", "cpts", "secret",
                                "cpts@cpts.mssante.fr")
    assert parse_url("e", "mailtos://u:p@mail.example.org?mode=ssl&from=a@b.fr"
                          "&smtp=smtp.b.fr").mode == "ssl"


@pytest.mark.parametrize(("url", "medium", "problem"), [
    ("json://gw.example/sms", "sms", r"\{phone\}"),
    ("nothing-here", "email", "URL Apprise attendue"),
    ("nosuchscheme://x/{rpps}", "email", "non reconnue par Apprise"),
])
def test_wrong_gateway_urls_are_configuration_errors(url: str, medium: str,
                                                     problem: str) -> None:
    with pytest.raises(ChannelConfigError, match=problem):
        AppriseChannel("x", url, medium=medium)  # type: ignore[arg-type]


def test_an_invalid_address_fails_before_any_connection() -> None:
    channel = SmtpChannel("email", SmtpConfig("127.0.0.1", 9, "insecure", None, None, "a@b.fr"),
                          secure=False, sender_name="CPTS", address_field="email")
    message = OutgoingMessage("k", "task_assigned", "email", "paul.martin(at)example.fr",
                              "Paul", "s", "t", None, datetime(2026, 1, 5, tzinfo=UTC))
    with pytest.raises(PermanentDeliveryError, match="adresse invalide"):
        channel.send(message)


# -- the exception tree ---------------------------------------------------------------------


CLASSES = [obj for _, obj in inspect.getmembers(exceptions, inspect.isclass)
           if issubclass(obj, BaseException) and obj.__module__ == exceptions.__name__]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_is_a_documented_parcours_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, ParcoursError) and cls.__doc__
    assert isinstance(cls.retryable, bool)  # type: ignore[attr-defined]
    assert f" {cls.__name__} " in (exceptions.__doc__ or "")


def test_the_docstring_draws_the_real_hierarchy() -> None:
    tree = (exceptions.__doc__ or "").split("::", 1)[1]
    known = {cls.__name__: cls for cls in [*CLASSES, ParcoursError]}
    stack: list[tuple[int, str]] = []
    for line in tree.splitlines():
        words = line.replace("│", " ").replace("├──", "   ").replace("└──", "   ").split()
        if not words or words[0] not in known:
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            assert known[stack[-1][1]] in known[words[0]].__bases__, words[0]
        stack.append((depth, words[0]))
    assert len(stack) >= 3


# -- the public API -------------------------------------------------------------------------


def test_the_public_api_is_what_we_mean() -> None:
    assert sorted(notifications.__all__) == ["DigestReport", "DispatchReport",
                                             "NotificationSettings", "dispatch_pending",
                                             "queue_daily_digests"]
    params = inspect.signature(notifications.dispatch_pending).parameters
    assert list(params)[:3] == ["engine", "settings", "now"]
    assert params["batch_size"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["channels"].default is None
    digest = inspect.signature(notifications.queue_daily_digests).parameters
    assert list(digest)[:2] == ["engine", "now"]
    assert digest["settings"].kind is inspect.Parameter.KEYWORD_ONLY


def test_importing_notifications_does_not_import_prefect_the_cli_or_apprise() -> None:
    probe = "import sys\nimport notifications\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    loaded = {line.split(".")[0] for line in done.stdout.splitlines()}
    assert not loaded & {"prefect", "flows", "apprise"}


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.settings import Settings
    from notifications.dispatch import as_notification_settings
    from notifications.settings import NotificationSettings

    monkeypatch.setenv("PARCOURS_BASE_URL", "https://cpts.example")
    monkeypatch.setenv("PARCOURS_NOTIFY_SMS_URL", "jsons://gw.example/sms?:to={phone}")
    monkeypatch.setenv("PARCOURS_NOTIFY_SMS_QUIET_DAYS", '["samedi", "dimanche"]')
    monkeypatch.setenv("PARCOURS_NOTIFY_MAX_ATTEMPTS", "9")
    settings = NotificationSettings()
    assert settings.base_url == "https://cpts.example" and settings.max_attempts == 9
    assert settings.sms_url is not None and "{phone}" in settings.sms_url.get_secret_value()
    assert "gw.example" not in repr(settings)          # secrets are not printed
    assert settings.sms_quiet_days == ["samedi", "dimanche"]
    assert settings.configured() == ["sms"]            # no console once a channel is set
    monkeypatch.setenv("PARCOURS_NOTIFY_BASE_URL", "https://notify.example")
    assert NotificationSettings().base_url == "https://notify.example"
    engine_settings = Settings(base_url="https://engine.example")
    assert as_notification_settings(engine_settings).base_url == "https://engine.example"
