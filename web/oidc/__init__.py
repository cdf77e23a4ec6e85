"""OpenID Connect sign-in (Pro Santé Connect or a territory's own provider).

Why these parts of Authlib, and not its Starlette client: ``authlib.integrations.
starlette_client`` keeps the state and nonce in Starlette's ``request.session`` (one more
session cookie beside the workspace's own) and checks the ID token's audience only
indirectly (its default claims options name the issuer alone); time is read from the
wall clock. Here the flow is composed from Authlib's protocol pieces instead —
``prepare_grant_uri`` / ``prepare_token_request`` / ``ClientAuth`` for the OAuth 2.0
messages, ``create_s256_code_challenge`` for PKCE, ``CodeIDToken`` for the OpenID claims
rules — with joserfc (the JOSE library Authlib now builds on; ``authlib.jose`` is
deprecated) for signatures, plain ``httpx`` for the requests, and explicit checks for what
a stateless, multi-worker app needs: the transaction in a signed cookie
(``transaction.py``), single use of state and nonce in the database (``replay.py``), the
current time injected (``engine.clock``). Every step can be tested against a real
provider on loopback (``tests/web/oidc_provider.py``). The workspace mounts the router
through ``web/auth/oidc.py`` when ``PARCOURS_WEB_OIDC_ISSUER`` is set.

::

    settings.py     OidcSettings (PARCOURS_WEB_OIDC_*)
    transaction.py  state, nonce, PKCE verifier and return path in a signed cookie
    client.py       discovery, JWKS, code exchange, userinfo (HTTP)
    tokens.py       ID token / userinfo validation, RPPS claim
    replay.py       single use of state and nonce (database or memory)
    professionals.py  the active professional with an RPPS number
    flow.py         the checks in order, from the redirect to a verified RPPS number
    router.py       the two routes, given find/sign-in/refuse callables
"""

from web.oidc.replay import MemoryReplayGuard, ReplayGuard, SqlReplayGuard
from web.oidc.router import RETURN_PATH, START_PATH, oidc_router
from web.oidc.settings import OidcSettings

__all__ = ["RETURN_PATH", "START_PATH", "MemoryReplayGuard", "OidcSettings", "ReplayGuard",
           "SqlReplayGuard", "oidc_router"]
