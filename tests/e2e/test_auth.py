"""Authentication through a real ``veil serve``: SCRAM verifiers, tokens, the JWT attack suite.

Password SCRAM logins, wrong-password/unknown-user sameness and TLS channel binding
are covered in tests/e2e/frontends/pg/test_login.py; this file adds what the
identity layer brings: stored SCRAM verifiers, dev-issuer tokens with psycopg and
asyncpg, and every token attack ending in FATAL 28000.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization

from tests.support.proxy import VeilProcess, basic_config, running_veil
from tests.support.services import PgServer, temp_database
from veil.config import DevIssuerSettings
from veil.identity import ensure_key, issue_token, make_verifier
from veil.identity.dev_issuer import load_key

STATIC_USER, STATIC_PW = "svc", "svc-secret-pw"
VERIFIER_USER, VERIFIER_PW = "stored", "stored-secret-pw"
TOKEN_USER = "tok-user"


@dataclass
class AuthSetup:
    veil: VeilProcess
    dev: DevIssuerSettings

    def token(self, identity: str = TOKEN_USER, **extra: Any) -> str:
        return issue_token(self.dev, identity=identity, groups=["analysts"], kind="agent", ttl=300,
                           clock=time.time, extra=extra or None)


@pytest.fixture(scope="module")
def auth(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthSetup]:
    tmp = tmp_path_factory.mktemp("auth")
    dev = DevIssuerSettings(key=f"file:{tmp / 'keys' / 'dev-issuer.ed25519'}")
    ensure_key(dev)
    with temp_database(pg_server, prefix="veil_auth") as dsn:
        cfg = basic_config(dsn, [(STATIC_USER, STATIC_PW, ["svc"], "human")])
        verifier = make_verifier(VERIFIER_PW, b"0123456789abcdef")
        cfg["identity"]["users"].append({"name": VERIFIER_USER, "password": verifier, "groups": []})
        cfg["identity"]["dev_issuer"] = {"key": dev.key}
        cfg["policies"][0]["when"] = {}
        with running_veil(cfg, tmp_path=tmp) as veil:
            yield AuthSetup(veil, dev)


def test_static_and_verifier_users_log_in_with_scram(auth: AuthSetup) -> None:
    for user, password in ((STATIC_USER, STATIC_PW), (VERIFIER_USER, VERIFIER_PW)):
        with psycopg.connect(auth.veil.dsn(user, password)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(auth.veil.dsn(VERIFIER_USER, STATIC_PW))


async def test_unknown_user_fails_like_a_wrong_password_with_tokens_on(auth: AuthSetup) -> None:
    errors = []
    for user, password in ((STATIC_USER + "x", "whatever-pw"), ("probe-user", "whatever-pw")):
        with pytest.raises(asyncpg.PostgresError) as info:
            await asyncpg.connect(auth.veil.url(user, password))
        errors.append((info.value.sqlstate, str(info.value).replace(user, "U")))
    with pytest.raises(asyncpg.PostgresError) as info:
        await asyncpg.connect(auth.veil.url(VERIFIER_USER, "whatever-pw"))
    errors.append((info.value.sqlstate, str(info.value).replace(VERIFIER_USER, "U")))
    assert len(set(errors)) == 1 and errors[0][0] == "28P01", errors


def test_psycopg_token_login(auth: AuthSetup) -> None:
    with psycopg.connect(auth.veil.dsn(TOKEN_USER, auth.token())) as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)


async def test_asyncpg_token_login(auth: AuthSetup) -> None:
    conn = await asyncpg.connect(auth.veil.url(TOKEN_USER, auth.token()))
    try:
        assert await conn.fetchval("SELECT 3") == 3
    finally:
        await conn.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(user: str) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "veil-dev", "aud": "veil", "sub": user, "iat": now, "nbf": now, "exp": now + 300}


def _unsigned(header: dict[str, Any], claims: dict[str, Any], key: bytes | None = None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{_b64(sig)}"


def _tampered(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["groups"] = ["dba"]
    return f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"


def attack_token(auth: AuthSetup, name: str, user: str) -> str:
    """One forged or invalid token for ``user`` (each attack uses its own user, so no backoff kicks in)."""
    now = int(time.time())
    if name == "alg none":
        return _unsigned({"alg": "none", "typ": "JWT"}, _claims(user))
    if name == "HS256 with the public key":
        public_pem = load_key(auth.dev).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return _unsigned({"alg": "HS256", "typ": "JWT"}, _claims(user), public_pem)
    if name.startswith("kid"):
        kid = "nope" if name == "kid unknown" else "../../../etc/passwd"
        return _unsigned({"alg": "EdDSA", "kid": kid}, _claims(user))
    if name == "tampered payload":
        return _tampered(auth.token(user))
    extra: dict[str, Any] = {
        "expired": {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
        "not yet valid": {"nbf": now + 3600},
        "wrong issuer": {"iss": "https://evil.example/"},
        "wrong audience": {"aud": "someone-else"},
        "oversized": {"padding": "x" * 9000},
        "someone else's token": {"sub": "someone-else"},
    }[name]
    return auth.token(user, **extra)


ATTACKS = ["alg none", "HS256 with the public key", "kid unknown", "kid path trick", "tampered payload",
           "expired", "not yet valid", "wrong issuer", "wrong audience", "oversized", "someone else's token"]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_token_attacks_end_with_fatal_28000(auth: AuthSetup, attack: str) -> None:
    user = f"atk-{ATTACKS.index(attack)}"
    token = attack_token(auth, attack, user)
    with pytest.raises(asyncpg.PostgresError) as info:
        await asyncpg.connect(auth.veil.url(user, token))
    assert info.value.sqlstate == "28000", (info.value.sqlstate, str(info.value))
    assert token not in str(info.value) and token not in auth.veil.logs()
    # the valid token for the same user is still accepted
    conn = await asyncpg.connect(auth.veil.url(user, auth.token(user)))
    await conn.close()


def test_psycopg_sees_the_refusal(auth: AuthSetup) -> None:
    now = int(time.time())
    expired = auth.token("psy-expired", iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(auth.veil.dsn("psy-expired", expired))


def test_repeated_failures_back_off(auth: AuthSetup) -> None:
    bad = "Not-The-Pw-7f3a"
    for _ in range(5):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(auth.veil.dsn(STATIC_USER, bad))
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(auth.veil.dsn(STATIC_USER, bad))
    assert time.monotonic() - started >= 0.9  # the sixth attempt waits (1 s, then doubling)
    assert f"login failure 5 for identity '{STATIC_USER}'" in auth.veil.logs()
    assert bad not in auth.veil.logs()


# -- who you are decides what you may do: identities and tokens through the real pipeline -------------

POLICIES = [
    {"name": "ai-agents", "when": {"kind": "agent"}, "access": "read-only", "require_reason": True,
     "mask": {"default": "none"}, "tables": {"allow": ["public.*"], "deny": ["public.secrets"]}},
    {"name": "analysts", "when": {"groups": ["analysts"]}, "access": "read-only",
     "mask": {"default": "none"}},
]


@dataclass
class PolicySetup:
    veil: VeilProcess
    dev: DevIssuerSettings
    config: dict[str, Any]


@pytest.fixture
def policy_veil(pg_dsn: str, tmp_path: Path) -> Iterator[PolicySetup]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int, name text); INSERT INTO items VALUES (1, 'one')")
        conn.execute("CREATE TABLE secrets (id int, v text); INSERT INTO secrets VALUES (1, 'x')")
    dev = DevIssuerSettings(key=f"file:{tmp_path / 'dev-issuer.ed25519'}")
    ensure_key(dev)
    cfg = basic_config(pg_dsn, [("ann", "ann-pw-1", ["analysts"], "human"), ("bot", "bot-pw-1", [], "agent"),
                                ("nobody", "nobody-pw-1", [], "human")], policies=POLICIES)
    cfg["identity"]["dev_issuer"] = {"key": dev.key}
    with running_veil(cfg, tmp_path=tmp_path) as veil:
        yield PolicySetup(veil, dev, cfg)


def _refusal(conn: psycopg.Connection[Any], sql: str) -> str:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql)
    conn.rollback()
    assert info.value.diag.sqlstate == "42501", str(info.value)
    return info.value.diag.message_primary or ""


def test_policy_follows_the_identity(policy_veil: PolicySetup) -> None:
    veil = policy_veil.veil
    with psycopg.connect(veil.dsn("ann", "ann-pw-1")) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("one",)]
        assert "analysts" in _refusal(conn, "INSERT INTO items VALUES (2, 'two')")
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)  # still usable
    with psycopg.connect(veil.dsn("bot", "bot-pw-1")) as conn:
        message = _refusal(conn, "SELECT name FROM items")
        assert "veil.reason" in message and "ai-agents" in message
        assert conn.execute("/* veil.reason: T-7 */ SELECT name FROM items").fetchall() == [("one",)]
        assert "public.secrets" in _refusal(conn, "/* veil.reason: T-7 */ SELECT v FROM secrets")
    with psycopg.connect(veil.dsn("bot", "bot-pw-1", options="-c veil.reason=T-8")) as conn:
        assert conn.execute("SELECT id FROM items").fetchall() == [(1,)]
    with psycopg.connect(veil.dsn("nobody", "nobody-pw-1")) as conn:
        assert "no policy" in _refusal(conn, "SELECT 1")


def test_token_claims_choose_the_policy(policy_veil: PolicySetup) -> None:
    veil, dev = policy_veil.veil, policy_veil.dev
    analyst = issue_token(dev, identity="tina", groups=["analysts"], kind="human", ttl=300, clock=time.time)
    agent = issue_token(dev, identity="tina-bot", groups=["analysts"], kind="agent", ttl=300, clock=time.time)
    with psycopg.connect(veil.dsn("tina", analyst)) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("one",)]
    with psycopg.connect(veil.dsn("tina-bot", agent)) as conn:
        assert "veil.reason" in _refusal(conn, "SELECT name FROM items")  # kind: agent wins (first match)


def test_reload_keeps_the_old_policy_when_the_new_file_is_invalid(policy_veil: PolicySetup) -> None:
    import signal

    veil = policy_veil.veil
    good = veil.config_path.read_text()
    veil.config_path.write_text(good.replace("access: read-only", "access: read-onyl"))
    veil.proc.send_signal(signal.SIGHUP)
    _eventually(lambda: "config reload failed" in veil.logs())
    with psycopg.connect(veil.dsn("ann", "ann-pw-1")) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("one",)]
    # a valid change takes effect: analysts lose access
    veil.config_path.write_text(good.replace("- name: analysts\n  when:\n    groups:\n    - analysts\n"
                                             "  access: read-only",
                                             "- name: analysts\n  when:\n    groups:\n    - analysts\n"
                                             "  access: deny"))
    assert veil.config_path.read_text() != good
    veil.proc.send_signal(signal.SIGHUP)
    _eventually(lambda: "config reloaded" in veil.logs())
    with psycopg.connect(veil.dsn("ann", "ann-pw-1")) as conn:
        assert "access: deny" in _refusal(conn, "SELECT name FROM items")


def _eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_session_ends_when_its_token_expires(auth: AuthSetup) -> None:
    token = issue_token(auth.dev, identity="short-lived", ttl=2, clock=time.time)
    with psycopg.connect(auth.veil.dsn("short-lived", token), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        time.sleep(2.2)
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT 2")
        assert info.value.diag.sqlstate == "28000" and "expired" in str(info.value)
        assert conn.closed or conn.broken
