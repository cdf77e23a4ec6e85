"""Fixtures of the OpenID Connect tests: a real provider and the workspace, both over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from joserfc.jwk import RSAKey

from tests.web.oidc_provider import LoopbackProvider
from tests.web.servers import serving


@pytest.fixture(scope="session")
def provider_keys() -> tuple[RSAKey, RSAKey]:
    """Two RSA keys made once (the provider's, and an impostor's under the same kid)."""
    provider = LoopbackProvider()
    return provider.key, provider.other_key


@pytest.fixture
def provider(provider_keys: tuple[RSAKey, RSAKey]) -> Iterator[LoopbackProvider]:
    """A fresh provider on its own port, behaving until a test says otherwise."""
    key, other = provider_keys
    oidc = LoopbackProvider(key=key, other_key=other)

    def make(base_url: str) -> object:
        oidc.issuer = base_url
        return oidc.app()

    with serving(make):
        yield oidc
