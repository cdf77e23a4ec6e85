"""Errors of the web workspace (all under ``engine.exceptions.ParcoursError``).

::

    WebError
    ├── WebConfigError     settings that cannot work (no secret key in production…)
    ├── NotVisible         not found, or not for this professional: always a plain 404
    ├── SignInRequired     no valid session: redirect to the sign-in page
    ├── CsrfRefused        a form without the session's CSRF token: 403, nothing done
    └── RateLimited        too many sign-in requests: 429, nothing sent
"""

from __future__ import annotations

from engine.exceptions import ParcoursError


class WebError(ParcoursError):
    """A request of the web workspace cannot be served."""

    status_code = 500


class WebConfigError(WebError):
    """The web settings are unusable; the message says what to set."""


class NotVisible(WebError):
    """Unknown, or not this professional's to see: the same 404 either way (no hint)."""

    status_code = 404

    def __init__(self) -> None:
        super().__init__("page introuvable")


class SignInRequired(WebError):
    status_code = 303

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__("connexion requise")


class CsrfRefused(WebError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("formulaire expiré ou invalide : rechargez la page et recommencez")


class RateLimited(WebError):
    status_code = 429

    def __init__(self) -> None:
        super().__init__("trop de demandes de connexion : réessayez dans quelques minutes")
