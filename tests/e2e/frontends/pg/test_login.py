"""Authentication terminated at veil: SCRAM-SHA-256 for static users, TLS, channel binding."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import psycopg
import pytest
from tests.e2e.frontends.pg.conftest import PASSWORD, USER, Veil, eventually, run_veil


def test_scram_login_reaches_upstream_as_configured_user(veil: Veil, pg_dsn: str) -> None:
    with psycopg.connect(veil.dsn()) as conn:
        user, app = conn.execute("SELECT current_user, current_setting('application_name')").fetchone()
    direct_user = psycopg.connect(pg_dsn).execute("SELECT current_user").fetchone()
    assert (user,) == direct_user
    assert app == "veil-test"  # pipeline.upstream_parameters reached the upstream
    assert [s.identity.subject for s in veil.pipeline.sessions] == [USER]
    eventually(lambda: len(veil.pipeline.closed) == 1)  # close_session once, at disconnect


async def _login_error(veil: Veil, user: str, password: str) -> tuple[str, str, float]:
    started = time.perf_counter()
    with pytest.raises(asyncpg.PostgresError) as info:
        await asyncpg.connect(veil.url(user=user, password=password))
    return info.value.sqlstate, str(info.value), time.perf_counter() - started


async def test_wrong_password_and_unknown_user_fail_alike(veil: Veil) -> None:
    wrong_state, wrong_text, wrong_time = await _login_error(veil, USER, "not-the-password")
    unknown_state, unknown_text, unknown_time = await _login_error(veil, "mallory", "whatever")
    assert wrong_state == unknown_state == "28P01"
    assert wrong_text.replace(USER, "X") == unknown_text.replace("mallory", "X")
    assert abs(wrong_time - unknown_time) < 0.5
    assert veil.pipeline.sessions == []  # no session opened for a failed login


async def test_asyncpg_scram_login(veil: Veil) -> None:
    conn = await asyncpg.connect(veil.url())
    try:
        assert await conn.fetchval("SELECT 41 + 1") == 42
    finally:
        await conn.close()


def test_no_tls_configured_answers_n(veil: Veil) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(veil.dsn(sslmode="require"))
    with psycopg.connect(veil.dsn(sslmode="prefer")) as conn:
        assert conn.info.pgconn.ssl_in_use is False


def test_tls_and_channel_binding(pg_dsn: str, tmp_path: Path) -> None:
    with run_veil(pg_dsn, tmp_path, tls=True) as veil:
        with psycopg.connect(veil.dsn(sslmode="require")) as conn:
            assert conn.info.pgconn.ssl_in_use is True
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # libpq insists on SCRAM-SHA-256-PLUS bound to veil's certificate
        with psycopg.connect(veil.dsn(sslmode="require", channel_binding="require")) as conn:
            assert conn.execute("SELECT 2").fetchone() == (2,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(veil.dsn(password="wrong", sslmode="require", channel_binding="require"))
        assert [s.tls for s in veil.pipeline.sessions] == [True, True]


def test_channel_binding_is_not_offered_without_tls(veil: Veil) -> None:
    with pytest.raises(psycopg.OperationalError, match="channel binding"):
        psycopg.connect(veil.dsn(sslmode="disable", channel_binding="require"))


def test_replication_connections_are_refused(veil: Veil) -> None:
    with pytest.raises(psycopg.OperationalError, match="replication"):
        psycopg.connect(veil.dsn(replication="database"))


def test_veil_settings_stay_out_of_the_upstream(veil: Veil) -> None:
    options = "-c veil.reason=TICKET-42 -c statement_timeout=12345"
    with psycopg.connect(veil.dsn(options=f"'{options}'")) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("12345ms",)
        assert conn.execute("SHOW veil.reason").fetchone() == ("TICKET-42",)
        assert conn.execute("SELECT current_setting('veil.reason', true)").fetchone() in ((None,), ("",))
    assert veil.pipeline.sessions[0].reason == "TICKET-42"


def test_unknown_database_error_comes_from_upstream(veil: Veil) -> None:
    with pytest.raises(psycopg.OperationalError, match='database "no_such_db_here" does not exist') as info:
        psycopg.connect(veil.dsn().replace(f"dbname={veil.dbname}", "dbname=no_such_db_here"))
    assert PASSWORD not in str(info.value)
    eventually(lambda: len(veil.pipeline.closed) == len(veil.pipeline.sessions) == 1)


def test_connection_limit_per_identity(pg_dsn: str, tmp_path: Path) -> None:
    with run_veil(pg_dsn, tmp_path, extra={"limits": {"max_connections_per_identity": 2}}) as veil:
        first, second = psycopg.connect(veil.dsn()), psycopg.connect(veil.dsn())
        with pytest.raises(psycopg.OperationalError, match="too many connections for this identity"):
            psycopg.connect(veil.dsn())
        first.close()
        eventually(lambda: len(veil.pipeline.closed) >= 2)
        with psycopg.connect(veil.dsn()) as third:
            assert third.execute("SELECT 1").fetchone() == (1,)
        second.close()
