"""OpenID Connect settings (environment prefix ``PARCOURS_WEB_OIDC_``), read once at the edge.

OIDC sign-in is on when ``PARCOURS_WEB_OIDC_ISSUER`` is set. The defaults fit Pro Santé
Connect (scope ``scope_all``, ``acr_values=eidas1``, the national identifier
``SubjectNameID`` of the userinfo, which is ``8`` followed by the RPPS number); a
territory with its own provider sets the claim path and clears the prefix.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: ID token signature algorithms accepted at most (never ``none``, never HMAC with the
#: client secret: the provider's published keys are what we trust).
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                         "ES256", "ES384", "ES512")


class OidcSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_WEB_OIDC_", env_file=None,
                                      extra="ignore")

    issuer: str | None = Field(
        None, description="Issuer URL; its /.well-known/openid-configuration is read. "
                          "Unset: OIDC sign-in is off")
    client_id: str = Field("", description="Client id registered with the provider")
    client_secret: SecretStr = Field(SecretStr(""), description="Client secret")
    token_auth_method: Literal["client_secret_basic", "client_secret_post"] = Field(
        "client_secret_basic", description="How the client authenticates at the token endpoint")
    scopes: str = Field("openid scope_all", description="Space-separated scopes")
    acr_values: str | None = Field(
        "eidas1", description="Requested authentication level; the ID token's acr must be "
                              "one of these (space-separated). Empty: not requested")
    rpps_claim: str = Field(
        "SubjectNameID", description="Dotted path of the claim holding the RPPS number, "
                                     "looked up in the userinfo then in the ID token")
    rpps_prefix: str = Field(
        "8", description="Prefix removed from a 12-character national identifier "
                         "(Pro Santé Connect: 8 + RPPS)")
    use_userinfo: bool = Field(True, description="Fetch the userinfo endpoint for claims")
    provider_name: str = Field("Pro Santé Connect", description="Shown on the sign-in button")
    redirect_uri: str | None = Field(
        None, description="Callback URL registered with the provider; default: "
                          "<base URL>/connexion/oidc/retour")
    http_timeout_seconds: float = Field(10.0, gt=0)
    leeway_seconds: int = Field(60, ge=0, le=300, description="Clock skew tolerated")
    login_minutes: int = Field(10, ge=1, le=60,
                               description="Time allowed between the redirect and the return")
    metadata_cache_seconds: int = Field(3600, ge=0,
                                        description="How long discovery and keys are kept")

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("https://", "http://")):
            raise ValueError("the issuer must be an http(s) URL, e.g. https://auth.example.fr")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _client_when_enabled(self) -> OidcSettings:
        if self.issuer is not None and not self.client_id:
            raise ValueError("PARCOURS_WEB_OIDC_CLIENT_ID is required when "
                             "PARCOURS_WEB_OIDC_ISSUER is set")
        return self

    @property
    def enabled(self) -> bool:
        return self.issuer is not None

    @property
    def scope_list(self) -> list[str]:
        scopes = self.scopes.split()
        return scopes if "openid" in scopes else ["openid", *scopes]

    @property
    def acr_list(self) -> list[str]:
        return (self.acr_values or "").split()

    def callback_url(self, base_url: str) -> str:
        return self.redirect_uri or base_url.rstrip("/") + "/connexion/oidc/retour"
