"""SCRAM-SHA-256 credentials (RFC 5802 / 7677) for static identities.

The proxy runs the SCRAM exchange with scramp; this module only produces the
``(salt, StoredKey, ServerKey, iterations)`` it needs, from a password, from a
PostgreSQL-style verifier, or - for unknown users - a deterministic fake, so an
unknown name walks the same code path as a wrong password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from veil.config import SCRAM_PREFIX as VERIFIER_PREFIX
from veil.config import parse_scram_verifier
from veil.errors import ConfigError

DEFAULT_ITERATIONS = 4096  # PostgreSQL's default scram_iterations


@dataclass(frozen=True, slots=True)
class ScramCredentials:
    """What scramp's ``ScramMechanism.make_auth_info`` returns, plus whether the user exists."""

    salt: bytes
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)
    iterations: int
    known: bool = True

    def auth_info(self) -> tuple[bytes, bytes, bytes, int]:
        """The tuple scramp's ``make_server(auth_fn)`` expects ``auth_fn`` to return."""
        return self.salt, self.stored_key, self.server_key, self.iterations


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    # SASLprep is skipped on purpose: PostgreSQL also falls back to the raw bytes
    # when a password is not valid UTF-8 SASLprep input, and our own passwords are ASCII.
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def stored_key_for(password: str, salt: bytes, iterations: int) -> bytes:
    """StoredKey = H(HMAC(SaltedPassword, "Client Key"))."""
    return hashlib.sha256(_hmac(salted_password(password, salt, iterations), b"Client Key")).digest()


def from_password(password: str, salt: bytes, iterations: int = DEFAULT_ITERATIONS) -> ScramCredentials:
    salted = salted_password(password, salt, iterations)
    stored = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    return ScramCredentials(salt, stored, _hmac(salted, b"Server Key"), iterations)


def parse_verifier(verifier: str, *, key: str = "password") -> ScramCredentials:
    """``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`` (pg_authid.rolpassword format)."""
    try:
        iterations, salt, stored, server = parse_scram_verifier(verifier)
    except ValueError:
        raise ConfigError("malformed SCRAM-SHA-256 verifier", key=key) from None
    return ScramCredentials(salt, stored, server, iterations)


def make_verifier(password: str, salt: bytes, iterations: int = DEFAULT_ITERATIONS) -> str:
    """The verifier string for ``password`` (for tests and docs; PostgreSQL writes the same)."""
    c = from_password(password, salt, iterations)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"{VERIFIER_PREFIX}{iterations}:{b64(c.salt)}${b64(c.stored_key)}:{b64(c.server_key)}"


def fake_credentials(secret: bytes, username: str, iterations: int = DEFAULT_ITERATIONS) -> ScramCredentials:
    """Deterministic per process and name, so probing one name twice sees the same salt."""
    name = username.encode("utf-8", "surrogatepass")
    return ScramCredentials(
        salt=_hmac(secret, b"salt\0" + name)[:16],
        stored_key=_hmac(secret, b"stored\0" + name),
        server_key=_hmac(secret, b"server\0" + name),
        iterations=iterations,
        known=False,
    )
