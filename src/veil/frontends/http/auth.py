"""Per-request credentials for the HTTP listener: ``Bearer <jwt>`` or ``Basic`` for static users.

Every request proves who it is; there is no anonymous fallback and no cookie
session.  Verification is the identity provider's (the same code as the wire
login), so a token accepted here is exactly a token accepted by psql.  Failures are
answered with one vague message and ``WWW-Authenticate`` - which part was wrong is
only logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from starlette.datastructures import Headers

from veil.errors import AuthError
from veil.frontends.mcp.credentials import Verifier, token_username
from veil.values import Identity

log = logging.getLogger(__name__)

REALM = 'Bearer realm="veil", Basic realm="veil", charset="UTF-8"'
MAX_BACKOFF = 5.0


def parse_authorization(value: str) -> tuple[str, str, str]:
    """``(scheme, username, secret)`` from an Authorization header; AuthError when unusable."""
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:
        raise AuthError("missing credentials")
    if scheme.lower() == "bearer":
        return "bearer", token_username(credentials), credentials
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError("invalid credentials") from None
        user, sep, password = decoded.partition(":")
        if not sep or not user:
            raise AuthError("invalid credentials")
        return "basic", user, password
    raise AuthError("unsupported authorization scheme")


def claimed_name(headers: Headers) -> str:
    """The user name a request claims (for the audit of a failed login); empty when unreadable."""
    try:
        return parse_authorization(headers.get("authorization", ""))[1]
    except AuthError:
        return ""


class HttpAuthenticator:
    """Turns an Authorization header into an Identity, with the provider's failed-login backoff."""

    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier

    async def authenticate(self, headers: Headers, *, client_addr: str, tls: bool) -> Identity:
        value = headers.get("authorization")
        if not value:
            raise AuthError("missing credentials")
        scheme, user, secret = parse_authorization(value)
        delay = self._verifier.backoff_seconds(user, client_addr)
        if delay > 0:
            await asyncio.sleep(min(delay, MAX_BACKOFF))
        try:
            if scheme == "bearer":
                identity = self._verifier.verify_token(user, secret, tls=tls, client_addr=client_addr)
            else:
                identity = self._verifier.verify_password(user, secret, tls=tls, client_addr=client_addr)
        except AuthError:
            self._verifier.record_failure(user, client_addr)
            log.info("http authentication failed for %r from %s", user, client_addr)
            raise AuthError("invalid credentials") from None
        self._verifier.record_success(user, client_addr)
        return identity
