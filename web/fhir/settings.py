"""Settings of the FHIR REST interface (environment prefix ``PARCOURS_FHIR_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FhirSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_FHIR_", env_file=None,
                                      extra="ignore")

    token_minutes: float = Field(5.0, gt=0, le=60, description="An access token lasts this "
                                 "long (SMART backend services: at most 5 minutes advised)")
    max_body_mb: float = Field(16.0, gt=0, description="Larger request bodies: 413")
    search_limit: int = Field(500, ge=1, description="Most entries of a searchset Bundle")

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)
