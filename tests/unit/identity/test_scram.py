"""SCRAM credentials work in a real scramp exchange; verifiers round-trip; fakes are stable."""

from __future__ import annotations

import os

import pytest
import scramp

from veil.errors import ConfigError
from veil.identity.scram import fake_credentials, from_password, make_verifier, parse_verifier


def exchange(creds_info: tuple[bytes, bytes, bytes, int], password: str) -> bool:
    """A full SCRAM-SHA-256 exchange between scramp's client and server; True if the server accepts."""
    server = scramp.ScramMechanism("SCRAM-SHA-256").make_server(lambda _user: creds_info)
    client = scramp.ScramClient(["SCRAM-SHA-256"], "user", password)
    server.set_client_first(client.get_client_first())
    client.set_server_first(server.get_server_first())
    try:
        server.set_client_final(client.get_client_final())
    except scramp.ScramException:
        return False
    client.set_server_final(server.get_server_final())
    return True


def test_password_credentials_accept_only_the_password() -> None:
    creds = from_password("correct horse", os.urandom(16))
    assert exchange(creds.auth_info(), "correct horse")
    assert not exchange(creds.auth_info(), "wrong horse")


def test_verifier_round_trip_matches_scramp() -> None:
    salt = b"0123456789abcdef"
    verifier = make_verifier("pw", salt, 4096)
    creds = parse_verifier(verifier)
    assert creds.auth_info() == scramp.ScramMechanism().make_auth_info("pw", iteration_count=4096, salt=salt)
    assert exchange(creds.auth_info(), "pw") and not exchange(creds.auth_info(), "px")


@pytest.mark.parametrize("bad", ["SCRAM-SHA-256$", "SCRAM-SHA-256$4096:c2FsdA==$YQ==:YQ==", "md5abc",
                                 "SCRAM-SHA-256$x:c2FsdA==$" + "A" * 44 + ":" + "A" * 44])
def test_malformed_verifiers(bad: str) -> None:
    with pytest.raises(ConfigError, match="malformed"):
        parse_verifier(bad)


def test_fake_credentials_are_deterministic_and_refuse_everything() -> None:
    secret = os.urandom(32)
    a, b = fake_credentials(secret, "ghost"), fake_credentials(secret, "ghost")
    assert a == b and not a.known and len(a.salt) == 16 and a.iterations == 4096
    assert fake_credentials(secret, "other").salt != a.salt
    assert fake_credentials(os.urandom(32), "ghost").salt != a.salt
    assert not exchange(a.auth_info(), "") and not exchange(a.auth_info(), "ghost")
