"""Credentials shared by the agent front ends: what verifies them, and which name a token claims.

Both stdio (``VEIL_TOKEN``) and HTTP (``Authorization``) hand a bare token to the
identity provider, which checks a token *for a user name* (as on the wire, where
the user name comes with the startup message).  The name is read from the token's
own claims; the provider then verifies signature, issuer, audience, times and name.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Protocol

from veil.errors import AuthError
from veil.values import Identity


class Verifier(Protocol):
    """The part of ``veil.identity.IdentityProvider`` the HTTP front end needs."""

    def verify_password(self, username: str, password: str, *, tls: bool = False,
                        client_addr: str = "local") -> Identity: ...

    def verify_token(self, username: str, token: str, *, tls: bool, client_addr: str) -> Identity: ...

    def backoff_seconds(self, username: str, client_addr: str) -> float: ...

    def record_failure(self, username: str, client_addr: str) -> None: ...

    def record_success(self, username: str, client_addr: str) -> None: ...


def token_username(token: str) -> str:
    """The name a token claims (``sub``, else ``preferred_username``), read before verification.

    Only used to tell the verifier which identity to check the token for; the
    verifier then checks signature, issuer, audience, times and that name.
    """
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise AuthError("invalid credentials") from None
    name = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(name, str) or not name:
        name = claims.get("preferred_username") if isinstance(claims, dict) else None
    if not isinstance(name, str) or not name:
        raise AuthError("invalid credentials")
    return name
