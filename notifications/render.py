"""Render messages from Jinja2 templates in a sandbox.

Templates live in ``notifications/templates``: ``email/KIND.txt``, whose
first line is the subject and the rest the plain-text body (both laid out
by ``email/_layout.txt``), ``email/KIND.html`` for the HTML part and
``sms/KIND.txt``. A CPTS may put its own versions in
``NotificationSettings.templates_dir``, looked up first. Because such files
are written outside the code base, the environment is an
``ImmutableSandboxedEnvironment`` (no attribute starting with ``_``, no
mutation of the context, no reaching Python internals), with
``StrictUndefined`` (a misspelt name fails instead of printing nothing) and
autoescaping for ``.html`` templates. Jinja2 errors become
``TemplateRenderError`` (not retryable: rendering again gives the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from notifications import formatting
from notifications.exceptions import TemplateRenderError
from notifications.kinds import template_of

BUILTIN = Path(__file__).with_name("templates")


T = TypeVar("T")


@dataclass(frozen=True)
class EmailBody:
    subject: str
    text: str
    html: str


def make_environment(extra: Path | None = None,
                     loader: jinja2.BaseLoader | None = None) -> ImmutableSandboxedEnvironment:
    folders = [str(extra)] if extra is not None else []
    env = ImmutableSandboxedEnvironment(
        loader=loader or jinja2.FileSystemLoader([*folders, str(BUILTIN)]),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                            default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
        auto_reload=False)
    env.filters.update(date_fr=formatting.date_fr, datetime_fr=formatting.datetime_fr,
                       short_date=formatting.short_date_fr)
    return env


class Renderer:
    """Renders the e-mail (subject, text, HTML) and SMS bodies of a message kind."""

    def __init__(self, templates_dir: Path | None = None,
                 loader: jinja2.BaseLoader | None = None) -> None:
        self.env = make_environment(templates_dir, loader)

    def email(self, kind: str, context: dict[str, Any]) -> EmailBody:
        name = template_of(kind)
        rendered = self._render(self._get(f"email/{name}.txt"), context).lstrip("\n")
        subject, _, text = rendered.partition("\n")
        html = self._render(self._get(f"email/{name}.html"), context)
        return EmailBody(formatting.one_line(subject), text.strip() + "\n", html)

    def sms(self, kind: str, context: dict[str, Any]) -> str:
        template = self._get(f"sms/{template_of(kind)}.txt")
        return formatting.one_line(self._render(template, context))

    def render_string(self, source: str, context: dict[str, Any]) -> str:
        """Render template text (previews, tests); same sandbox, same errors."""
        template = self._run("<texte>", lambda: self.env.from_string(source))
        return self._render(template, context)

    def _get(self, name: str) -> jinja2.Template:
        return self._run(name, lambda: self.env.get_template(name))

    def _render(self, template: jinja2.Template, context: dict[str, Any]) -> str:
        return self._run(template.name or "<texte>", lambda: template.render(context))

    @staticmethod
    def _run(name: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except SecurityError as exc:
            raise TemplateRenderError(name, f"opération interdite par le bac à sable : {exc}"
                                      ) from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateRenderError(name, f"modèle introuvable ({exc.name})") from exc
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(name, f"nom non défini : {exc.message}") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateRenderError(name, f"ligne {exc.lineno} : {exc.message}") from exc
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise TemplateRenderError(name, f"{type(exc).__name__} : {exc}") from exc
