"""IdentityProvider with static users: SCRAM credentials, cleartext checks, unknown users."""

from __future__ import annotations

import statistics
import time

import pytest

from veil.config import parse_config
from veil.errors import AuthError, TokenError
from veil.identity import IdentityProvider, is_loopback, make_verifier

CONFIG = """\
upstream: {postgres: "postgresql://u@127.0.0.1/db"}
identity:
  users:
    - {name: analyst, password: analyst-pw, groups: [analysts, staff], kind: human}
    - {name: bot, password: "VERIFIER", kind: agent}
""".replace("VERIFIER", make_verifier("bot-pw", b"saltsaltsaltsalt"))


@pytest.fixture(scope="module")
def provider() -> IdentityProvider:
    return IdentityProvider(parse_config(CONFIG).identity)


def test_static_password_and_verifier(provider: IdentityProvider) -> None:
    who = provider.verify_password("analyst", "analyst-pw")
    assert (who.subject, who.groups, who.kind) == ("analyst", ("analysts", "staff"), "human")
    assert who.source == "static"
    assert who.expires_at is None
    assert provider.verify_password("bot", "bot-pw").kind == "agent"
    assert provider.static_identity("bot").subject == "bot"


@pytest.mark.parametrize(("user", "password"), [("analyst", "wrong"), ("bot", "analyst-pw"), ("ghost", "x"),
                                                ("analyst", ""), ("ghost", "analyst-pw")])
def test_refusals_look_the_same(provider: IdentityProvider, user: str, password: str) -> None:
    with pytest.raises(AuthError) as info:
        provider.verify_password(user, password)
    assert str(info.value) == f'password authentication failed for user "{user}"'
    assert info.value.sqlstate == "28P01"


def test_scram_credentials_known_and_fake(provider: IdentityProvider) -> None:
    assert provider.scram_credentials("analyst").known
    fake = provider.scram_credentials("ghost")
    assert not fake.known and fake == provider.scram_credentials("ghost")
    assert fake.iterations == provider.scram_credentials("analyst").iterations
    with pytest.raises(AuthError):
        provider.static_identity("ghost")


def test_unknown_user_costs_the_same_as_a_wrong_password(provider: IdentityProvider) -> None:
    def cost(user: str) -> float:
        samples = []
        for _ in range(15):
            start = time.perf_counter()
            with pytest.raises(AuthError):
                provider.verify_password(user, "nope")
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    known, unknown = cost("analyst"), cost("ghost")
    assert 0.5 < unknown / known < 2.0  # both derive PBKDF2 once; a shortcut would be ~100x faster


def test_tokens_without_an_issuer_and_token_shape(provider: IdentityProvider) -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln"
    assert provider.looks_like_token(token) and not provider.looks_like_token("analyst-pw")
    assert not provider.looks_like_token("a.b.c")
    with pytest.raises(TokenError):
        provider.verify_token("analyst", token, tls=True, client_addr="10.0.0.1")
    with pytest.raises(AuthError) as info:  # not a token at all: a wrong password, not a bad token
        provider.verify_token("ghost", "hunter2", tls=True, client_addr="10.0.0.1")
    assert info.value.sqlstate == "28P01" and not isinstance(info.value, TokenError)
    # without issuers a token-looking password is just a (wrong) password
    with pytest.raises(AuthError):
        provider.verify_password("analyst", token)


def test_backoff_through_the_provider(provider: IdentityProvider) -> None:
    for _ in range(5):
        provider.record_failure("analyst", "192.0.2.9")
    assert provider.backoff_seconds("analyst", "192.0.2.9") > 0
    provider.record_success("analyst", "192.0.2.9")
    assert provider.backoff_seconds("analyst", "192.0.2.9") == 0.0


@pytest.mark.parametrize(("addr", "loop"), [("127.0.0.1", True), ("::1", True), ("local", True),
                                            ("/tmp/.s.PGSQL.5432", True), ("10.0.0.1", False), ("", False),
                                            ("localhost.evil.com", False)])
def test_is_loopback(addr: str, loop: bool) -> None:
    assert is_loopback(addr) is loop
