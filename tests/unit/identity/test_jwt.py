"""The JWT attack suite against IdentityProvider.verify_token, plus what a valid token yields."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from veil.config import parse_config
from veil.errors import AuthError, TokenError, TokenExpiredError
from veil.identity import IdentityProvider

ISSUER, AUDIENCE = "https://idp.test/", "veil"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ES256": ec.generate_private_key(ec.SECP256R1()),
            "EdDSA": ed25519.Ed25519PrivateKey.generate()}


def jwk_of(alg: str, key: Any) -> dict[str, Any]:
    algo = jwt.get_algorithm_by_name(alg)
    data = json.loads(algo.to_jwk(key.public_key()))
    data.update(kid=f"k-{alg}", use="sig")
    return data


class Env:
    def __init__(self, tmp_path: Path, keys: dict[str, Any]) -> None:
        self.keys = keys
        self.jwks_path = tmp_path / "jwks.json"
        self.jwks_path.write_text(json.dumps({"keys": [jwk_of(a, k) for a, k in keys.items()]}))
        self.fetches = 0
        self.clock = Clock()
        config = f"""
upstream: {{postgres: "postgresql://u@h/db"}}
identity:
  jwt: {{issuer: "{ISSUER}", audience: {AUDIENCE}, jwks: "file:{self.jwks_path}", leeway: 30s}}
"""
        self.provider = IdentityProvider(parse_config(config).identity, clock=self.clock, fetch=self.fetch)

    def fetch(self, ref: str) -> bytes:
        self.fetches += 1
        return Path(ref[5:]).read_bytes()

    def token(self, alg: str = "RS256", *, kid: str | None = None, headers: dict[str, Any] | None = None,
              **claims: Any) -> str:
        body: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": int(NOW),
                                "nbf": int(NOW), "exp": int(NOW) + 600, "groups": ["analysts"]}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"kid": kid or f"k-{alg}", **(headers or {})}
        return jwt.encode(body, self.keys[alg], algorithm=alg, headers=head)

    def verify(self, token: str, user: str = "alice") -> Any:
        return self.provider.verify_token(user, token, tls=True, client_addr="203.0.113.7")


@pytest.fixture
def env(tmp_path: Path, keys: dict[str, Any]) -> Env:
    return Env(tmp_path, keys)


def b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_valid_tokens_accepted(env: Env, alg: str) -> None:
    who = env.verify(env.token(alg))
    assert (who.subject, who.groups, who.kind, who.source) == ("alice", ("analysts",), "human", "jwt")
    assert who.expires_at == NOW + 600 and who.actor == ()


def test_password_path_takes_tokens(env: Env) -> None:
    who = env.provider.verify_password("alice", env.token(), tls=False, client_addr="127.0.0.1")
    assert who.source == "jwt"


def tamper(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["groups"] = ["dba"]
    return f"{head}.{b64(claims)}.{sig}"


def hs256_with_public_key(env: Env) -> str:
    pem = env.keys["RS256"].public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64({"alg": "HS256", "typ": "JWT", "kid": "k-RS256"})
    body = b64({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(NOW) + 600})
    import hashlib
    import hmac
    sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


ATTACKS: dict[str, Callable[[Env], str]] = {
    "alg none": lambda e: f"{b64({'alg': 'none', 'kid': 'k-RS256'})}.{b64({'iss': ISSUER, 'sub': 'alice'})}.",
    "HS256 with the RSA public key": hs256_with_public_key,
    "wrong issuer": lambda e: e.token(iss="https://evil.test/"),
    "wrong audience": lambda e: e.token(aud="other"),
    "tampered payload": lambda e: tamper(e.token()),
    "unknown kid": lambda e: e.token(kid="k-missing"),
    "kid path trick": lambda e: e.token(kid="../../../../etc/passwd"),
    "kid of another key type": lambda e: e.token("ES256", kid="k-RS256"),
    "not yet valid": lambda e: e.token(nbf=int(NOW) + 3600),
    "issued in the future": lambda e: e.token(iat=int(NOW) + 3600),
    "no exp": lambda e: e.token(exp=None),
    "exp NaN": lambda e: e.token(exp=float("nan")),
    "exp infinite": lambda e: e.token(exp=float("inf")),
    "other user": lambda e: e.token(sub="mallory"),
    "oversized": lambda e: e.token(pad="x" * 9000),
    "bad kind": lambda e: e.token(veil_kind="root"),
    "garbage": lambda e: "eyJ.garbage.x",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_refused_with_28000(env: Env, attack: str) -> None:
    token = ATTACKS[attack](env)
    with pytest.raises(TokenError) as info:
        env.verify(token)
    assert info.value.sqlstate == "28000" and info.value.reason
    assert token not in str(info.value) and token not in info.value.reason


def test_expired_token(env: Env) -> None:
    token = env.token(exp=int(NOW) - 31)
    with pytest.raises(TokenExpiredError) as info:
        env.verify(token)
    assert info.value.sqlstate == "28000"
    env.verify(env.token(exp=int(NOW) - 29))  # within the leeway


def test_token_without_tls_only_on_loopback(env: Env) -> None:
    token = env.token()
    with pytest.raises(TokenError, match="token authentication failed"):
        env.provider.verify_token("alice", token, tls=False, client_addr="203.0.113.7")
    assert env.provider.verify_token("alice", token, tls=False, client_addr="::1").subject == "alice"


def test_claims_act_kind_and_preferred_username(env: Env) -> None:
    token = env.token(sub="u-123", preferred_username="alice", groups="a b",
                      act={"sub": "agent-7", "act": {"sub": "orchestrator"}})
    who = env.verify(token)
    assert who.subject == "alice" and who.groups == ("a", "b")
    assert who.actor == ("agent-7", "orchestrator") and who.kind == "agent"
    assert env.verify(env.token(veil_kind="agent")).kind == "agent"


def test_unknown_kid_refreshes_at_most_once_a_minute(env: Env, keys: dict[str, Any]) -> None:
    env.verify(env.token())
    assert env.fetches == 1
    for _ in range(3):
        with pytest.raises(TokenError):
            env.verify(env.token(kid="k-new"))
    assert env.fetches == 1  # loaded less than a minute ago: no refetch per bad kid
    doc = json.loads(env.jwks_path.read_text())
    doc["keys"].append({**jwk_of("RS256", keys["RS256"]), "kid": "k-new"})
    env.jwks_path.write_text(json.dumps(doc))
    env.clock.now += 61
    assert env.verify(env.token(kid="k-new", iat=int(env.clock.now), exp=int(env.clock.now) + 60))
    assert env.fetches == 2


def test_failing_fetch_refuses_cleanly(tmp_path: Path) -> None:
    config = f"""
upstream: {{postgres: "postgresql://u@h/db"}}
identity:
  jwt: {{issuer: "{ISSUER}", audience: {AUDIENCE}, jwks: "https://idp.test/jwks.json"}}
"""
    provider = IdentityProvider(parse_config(config).identity)  # default fetch: file: only
    with pytest.raises(AuthError):
        provider.verify_token("alice", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", tls=True, client_addr="10.1.1.1")


def test_failed_refresh_keeps_the_known_keys(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.verify(env.token())
    env.jwks_path.write_text("{not json")
    env.clock.now += 61
    with pytest.raises(TokenError):
        env.verify(env.token(kid="k-other", iat=int(env.clock.now), exp=int(env.clock.now) + 60))
    assert "could not refresh the JWKS" in caplog.text and env.fetches == 2
    assert env.verify(env.token(iat=int(env.clock.now), exp=int(env.clock.now) + 60)).subject == "alice"


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=3), max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=_JSON, claims=_JSON, sig=st.binary(max_size=80))
def test_fuzzed_tokens_only_ever_fail_as_auth_errors(env: Env, header: object, claims: object,
                                                     sig: bytes) -> None:
    token = f"{b64(header)}.{b64(claims)}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    with pytest.raises(AuthError):
        env.verify(token)


_CLAIM_NAMES = st.sampled_from(["iss", "aud", "sub", "exp", "nbf", "iat", "groups", "veil_kind", "act",
                                "preferred_username"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(_CLAIM_NAMES, _JSON | st.floats(allow_nan=True), max_size=4))
def test_signed_tokens_with_odd_claims_verify_or_fail_cleanly(env: Env, extra: dict[str, Any]) -> None:
    try:
        token = env.token("EdDSA", **extra)
    except TypeError:  # pyjwt itself refuses to encode some (e.g. a non-string iss)
        assume(False)
    try:
        who = env.verify(token)
    except AuthError:
        return
    assert who.subject == "alice" and who.kind in ("human", "agent")
    assert who.expires_at is not None and math.isfinite(who.expires_at) and who.expires_at >= NOW - 30
    assert all(isinstance(g, str) for g in who.groups)
