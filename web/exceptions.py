"""Errors of the web workspace (all under ``engine.exceptions.ParcoursError``).

::

    WebError
    ├── WebConfigError     settings that cannot work (no secret key in production…)
    ├── NotVisible         not found, or not for this professional: always a plain 404
    ├── SignInRequired     no valid session: redirect to the sign-in page
    ├── CsrfRefused        a form without the session's CSRF token: 403, nothing done
    ├── RateLimited        too many sign-in requests: 429, nothing sent
    ├── FhirError          a request under /fhir refused: an OperationOutcome with its
    │                      status (web/fhir/errors.py)
    └── SignInError        a sign-in was refused: no session; ``public_message`` is French
        └── OidcError                   OpenID Connect sign-in (``web/oidc/``)
            ├── OidcConfigurationError  the provider's discovery document is unusable
            ├── OidcProviderError       the provider did not answer, or answered an error:
            │                           retryable
            ├── OidcCancelledError      the provider sent the user back with an error
            ├── OidcStateError          no, expired, forged or mismatched sign-in state
            ├── OidcReplayError         a state or nonce that was already used
            ├── OidcTokenError          the ID token or userinfo failed validation
            │                           (signature, issuer, audience, expiry, nonce, acr…)
            ├── RppsClaimError          no usable RPPS number in the provider's claims
            └── UnknownProfessionalError  no active professional with that RPPS number

Third-party exceptions of the OpenID Connect sign-in (Authlib, joserfc, httpx) are
translated into ``OidcError`` subclasses at the boundary (``web/oidc/client.py``,
``tokens.py``, ``flow.py``), raised ``from`` the original. A ``SignInError`` carries an
English ``reason`` for the server log (its ``str``) and a French ``public_message`` for
the page the professional sees; neither contains a token, a code or patient data. The
OIDC routes catch every ``SignInError`` and answer the French refusal page themselves.
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


# -- OpenID Connect sign-in ------------------------------------------------------------------


class SignInError(WebError):
    """A sign-in was refused: no session is opened."""

    status_code = 403
    public_message = "La connexion a échoué. Recommencez depuis la page de connexion."

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class OidcError(SignInError):
    """An OpenID Connect sign-in was refused."""


class OidcConfigurationError(OidcError):
    public_message = ("La connexion par le fournisseur d'identité n'est pas disponible "
                      "(configuration incorrecte). Prévenez la coordination de la CPTS.")


class OidcProviderError(OidcError):
    retryable = True
    public_message = ("Le fournisseur d'identité ne répond pas correctement. "
                      "Réessayez dans quelques minutes.")


class OidcCancelledError(OidcError):
    public_message = "La connexion a été annulée ou refusée par le fournisseur d'identité."

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(f"the provider answered error={error!r}")


class OidcStateError(OidcError):
    public_message = ("Cette demande de connexion a expiré ou n'est pas valable. "
                      "Recommencez depuis la page de connexion.")


class OidcReplayError(OidcError):
    public_message = ("Cette réponse de connexion a déjà été utilisée. "
                      "Recommencez depuis la page de connexion.")

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} already used")


class OidcTokenError(OidcError):
    public_message = ("La réponse du fournisseur d'identité n'a pas pu être vérifiée : "
                      "connexion refusée.")


class RppsClaimError(OidcError):
    public_message = ("Le fournisseur d'identité n'a pas transmis de numéro RPPS valable : "
                      "connexion refusée.")


class UnknownProfessionalError(OidcError):
    public_message = ("Aucun professionnel actif de la CPTS n'est enregistré avec votre numéro "
                      "RPPS dans Parcours. Prévenez la coordination de la CPTS.")

    def __init__(self, rpps: str) -> None:
        self.rpps = rpps
        super().__init__("no active professional with this RPPS number")
