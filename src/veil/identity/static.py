"""Static identities from ``identity.users``: SCRAM credentials and cleartext checks.

Every user - with a password or a stored verifier - is reduced to SCRAM
credentials once, at construction.  A cleartext password is checked by deriving
its StoredKey and comparing in constant time; unknown names get fake credentials
and the same derivation, so neither the answer nor the timing tells them apart.
"""

from __future__ import annotations

import hmac
import os

from veil.config import UserSettings
from veil.identity.scram import (
    DEFAULT_ITERATIONS,
    ScramCredentials,
    fake_credentials,
    from_password,
    parse_verifier,
    stored_key_for,
)
from veil.values import Identity


class StaticUsers:
    def __init__(self, users: tuple[UserSettings, ...], *, secret: bytes | None = None,
                 iterations: int = DEFAULT_ITERATIONS) -> None:
        # The per-process secret keys the fake credentials and salts derived passwords;
        # a restart changes both, which is harmless (clients never store them).
        self._secret = secret if secret is not None else os.urandom(32)
        self._iterations = iterations
        self._users = {u.name: u for u in users}
        self._creds: dict[str, ScramCredentials] = {}
        for i, u in enumerate(users):
            if u.scram_verifier is not None:
                self._creds[u.name] = parse_verifier(u.scram_verifier, key=f"identity.users[{i}].password")
            elif u.password is not None:
                salt = hmac.new(self._secret, b"user-salt\0" + u.name.encode(), "sha256").digest()[:16]
                self._creds[u.name] = from_password(u.password, salt, iterations)

    def __contains__(self, username: str) -> bool:
        return username in self._users

    def credentials(self, username: str) -> ScramCredentials:
        creds = self._creds.get(username)
        return creds if creds is not None else fake_credentials(self._secret, username, self._iterations)

    def check_password(self, username: str, password: str) -> bool:
        """Constant-time check of a cleartext password; always derives once."""
        creds = self.credentials(username)
        candidate = stored_key_for(password, creds.salt, creds.iterations)
        return hmac.compare_digest(candidate, creds.stored_key) and creds.known

    def identity(self, username: str) -> Identity | None:
        user = self._users.get(username)
        if user is None:
            return None
        return Identity(subject=user.name, groups=user.groups, kind=user.kind, source="static")
