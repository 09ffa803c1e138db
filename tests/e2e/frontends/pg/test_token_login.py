"""Token login: a JWT from the dev issuer sent as the password (cleartext request)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.e2e.frontends.pg.conftest import PASSWORD, USER, Veil, run_veil

from veil.config import DevIssuerSettings
from veil.identity import ensure_key, issue_token


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuerSettings:
    settings = DevIssuerSettings(key=f"file:{tmp_path / 'dev-issuer.pem'}")
    ensure_key(settings)
    return settings


@pytest.fixture
def token_veil(pg_dsn: str, tmp_path: Path, issuer: DevIssuerSettings) -> Iterator[Veil]:
    identity = {"users": [{"name": USER, "password": PASSWORD, "groups": ["g"], "kind": "human"}],
                "dev_issuer": {"key": issuer.key}}
    with run_veil(pg_dsn, tmp_path, extra={"identity": identity}) as veil:
        yield veil


def _token(issuer: DevIssuerSettings, name: str, ttl: float = 600) -> str:
    return issue_token(issuer, identity=name, groups=["agents"], kind="agent", ttl=ttl, clock=time.time)


def test_token_login_over_loopback(token_veil: Veil, issuer: DevIssuerSettings) -> None:
    with psycopg.connect(token_veil.dsn(user="bot-1", password=_token(issuer, "bot-1"))) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    identity = token_veil.pipeline.sessions[0].identity
    assert (identity.subject, identity.kind, identity.source) == ("bot-1", "agent", "dev")


def test_static_users_still_use_scram(token_veil: Veil) -> None:
    with psycopg.connect(token_veil.dsn()) as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_token_for_someone_else_is_refused(token_veil: Veil, issuer: DevIssuerSettings) -> None:
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(token_veil.dsn(user="bot-2", password=_token(issuer, "bot-1")))
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(token_veil.dsn(user="bot-2", password="not-a-token"))
    assert token_veil.pipeline.sessions == []


def test_session_ends_when_its_token_expires(token_veil: Veil, issuer: DevIssuerSettings) -> None:
    with psycopg.connect(token_veil.dsn(user="bot-3", password=_token(issuer, "bot-3", ttl=1)),
                         autocommit=True) as conn:
        assert conn.execute("SELECT 3").fetchone() == (3,)
        time.sleep(1.2)
        with pytest.raises(psycopg.OperationalError, match="expired"):
            conn.execute("SELECT 4")
