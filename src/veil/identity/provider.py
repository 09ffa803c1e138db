"""IdentityProvider: the one object front ends ask "who is this?".

Built from ``Settings.identity``; combines static users (SCRAM), token issuers
(the configured IdP and the local dev issuer) and failed-login backoff.  The
wire side (SCRAM exchange, cleartext request, FATAL messages) stays in the front
end; everything here is pure apart from the injected JWKS ``fetch``.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable

from veil.config import IdentitySettings
from veil.errors import AuthError, TokenError
from veil.identity.backoff import FailureTracker
from veil.identity.dev_issuer import dev_issuer_jwks
from veil.identity.jwks import Fetch, KeySetCache, file_fetch
from veil.identity.jwt import TokenVerifier, TrustedIssuer
from veil.identity.scram import ScramCredentials
from veil.identity.static import StaticUsers
from veil.values import Identity

_TOKEN_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
LOCAL_ADDRESSES = frozenset({"local", "unix"})


def is_loopback(client_addr: str) -> bool:
    """Loopback IP, a Unix socket (a path or ``unix``), or ``local`` (stdio front ends such as MCP)."""
    if client_addr in LOCAL_ADDRESSES or client_addr.startswith("/"):
        return True
    host = client_addr.rsplit("%", 1)[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class IdentityProvider:
    def __init__(self, settings: IdentitySettings, *, clock: Callable[[], float] = time.time,
                 fetch: Fetch = file_fetch) -> None:
        self._clock = clock
        self._static = StaticUsers(settings.users)
        self._failures = FailureTracker(clock=clock)
        self._tokens = TokenVerifier(_issuers(settings, clock, fetch), clock=clock)

    # -- static identities (SCRAM) ----------------------------------------------------------------
    def scram_credentials(self, username: str) -> ScramCredentials:
        """Credentials for the SCRAM exchange; a deterministic fake for unknown names."""
        return self._static.credentials(username)

    def static_identity(self, username: str) -> Identity:
        """The identity after a successful SCRAM exchange."""
        identity = self._static.identity(username)
        if identity is None:
            raise AuthError(f'password authentication failed for user "{username}"')
        return identity

    # -- cleartext ----------------------------------------------------------------------------------
    def looks_like_token(self, password: str) -> bool:
        """Three base64url parts with a JSON header: treat it as a token, not a password."""
        return _TOKEN_SHAPE.fullmatch(password) is not None

    def verify_password(self, username: str, password: str, *, tls: bool = False,
                        client_addr: str = "local") -> Identity:
        """A static password or, when it looks like one and issuers are configured, a token."""
        if self._tokens and self.looks_like_token(password):
            return self.verify_token(username, password, tls=tls, client_addr=client_addr)
        if self._static.check_password(username, password):
            return self.static_identity(username)
        raise AuthError(f'password authentication failed for user "{username}"')

    def verify_token(self, username: str, token: str, *, tls: bool, client_addr: str) -> Identity:
        """The identity a token proves; TokenError (28000) / TokenExpiredError otherwise.

        Something that is not even shaped like a token is a password sent by a client
        that does not know this name is not a static user: it fails exactly like a wrong
        password (same error, 28P01, and the same PBKDF2 cost), so probing names through
        the token path learns nothing.
        """
        if not self.looks_like_token(token):
            self._static.check_password(username, token)
            raise AuthError(f'password authentication failed for user "{username}"')
        if not tls and not is_loopback(client_addr):
            raise TokenError(f'token authentication failed for user "{username}"',
                             reason="token sent without TLS from a non-loopback address")
        if not self._tokens:
            raise TokenError(f'token authentication failed for user "{username}"',
                             reason="no issuer configured")
        return self._tokens.verify(username, token)

    # -- failed-login backoff -------------------------------------------------------------------------
    def backoff_seconds(self, username: str, client_addr: str) -> float:
        return self._failures.backoff_seconds(username, client_addr)

    def record_failure(self, username: str, client_addr: str) -> None:
        self._failures.record_failure(username, client_addr)

    def record_success(self, username: str, client_addr: str) -> None:
        self._failures.record_success(username, client_addr)


def _issuers(settings: IdentitySettings, clock: Callable[[], float], fetch: Fetch) -> list[TrustedIssuer]:
    """The configured IdP and the dev issuer; the dev issuer reads claims the same way as the IdP."""
    issuers = []
    groups_claim, kind_claim = "groups", "veil_kind"
    if (j := settings.jwt) is not None:
        jwks_ref = j.jwks
        keys = KeySetCache(lambda: fetch(jwks_ref), clock=clock)
        issuers.append(TrustedIssuer(j.issuer, j.audience, keys, j.groups_claim, j.kind_claim, j.leeway,
                                     "jwt"))
        groups_claim, kind_claim = j.groups_claim, j.kind_claim
    if (dev := settings.dev_issuer) is not None:
        dev_keys = KeySetCache(lambda: dev_issuer_jwks(dev), clock=clock)
        issuers.append(TrustedIssuer(dev.issuer, dev.audience, dev_keys, groups_claim, kind_claim, 30.0,
                                     "dev"))
    return issuers
