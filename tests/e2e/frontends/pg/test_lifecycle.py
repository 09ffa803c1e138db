"""Cancels, vanished peers, an unreachable upstream and graceful shutdown."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import psycopg
import pytest
from tests.e2e.frontends.pg.conftest import Veil, eventually, run_veil
from tests.support.services import PgServer, free_port


def _active_sleepers(pg_server: PgServer, dbname: str) -> int:
    with pg_server.admin() as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE '%%pg_sleep(30)%%'"
            " AND state = 'active' AND pid <> pg_backend_pid()", (dbname,)).fetchone()
    return int(row[0]) if row else 0


def test_cancel_reaches_the_right_backend(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn, psycopg.connect(veil.dsn()) as other:
        key = conn.info.backend_pid
        assert key != other.info.backend_pid
        # cancel() blocks in libpq holding the GIL, and this server runs in-process
        timer = threading.Timer(0.5, conn.cancel_safe)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
        assert time.monotonic() - started < 10
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert other.execute("SELECT 2").fetchone() == (2,)  # the other session was not touched
    canceled = [r for r in veil.pipeline.finished if "pg_sleep" in r.sql]
    assert canceled[0].outcome.sqlstate == "57014"


def test_cancel_with_a_wrong_secret_is_ignored(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        pid = conn.info.backend_pid
        with socket.create_connection(("127.0.0.1", veil.port)) as sock:
            sock.sendall((16).to_bytes(4, "big") + (80877102).to_bytes(4, "big") + pid.to_bytes(4, "big")
                         + (12345).to_bytes(4, "big"))
        assert conn.execute("SELECT pg_sleep(0.3), 5").fetchone() == ("", 5)


def test_client_vanishing_mid_query_cancels_upstream(veil: Veil, pg_server: PgServer) -> None:
    conn = psycopg.connect(veil.dsn(), autocommit=True)
    conn.pgconn.send_query(b"SELECT pg_sleep(30)")
    eventually(lambda: _active_sleepers(pg_server, veil.dbname) == 1)
    sock = socket.socket(fileno=conn.pgconn.socket)
    sock.shutdown(socket.SHUT_RDWR)  # the client's TCP connection dies with the query running
    sock.detach()
    eventually(lambda: _active_sleepers(pg_server, veil.dbname) == 0, timeout=10)
    eventually(lambda: len(veil.pipeline.closed) == 1)
    assert [r.outcome.status for r in veil.pipeline.finished if "pg_sleep" in r.sql] == ["error"]
    conn.close()


def test_upstream_down_at_connect(pg_dsn: str, tmp_path: Path) -> None:
    dead = pg_dsn.replace("port=5432", f"port={free_port()}")
    with run_veil(dead, tmp_path) as veil:
        with pytest.raises(psycopg.OperationalError, match="upstream database is unavailable"):
            psycopg.connect(veil.dsn())
        eventually(lambda: len(veil.pipeline.closed) == 1)


def test_upstream_backend_killed_ends_only_that_session(veil: Veil, pg_server: PgServer) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as victim, psycopg.connect(veil.dsn()) as bystander:
        upstream_pid = victim.execute("SELECT pg_backend_pid()").fetchone()
        with pg_server.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", upstream_pid)
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 1")
        assert bystander.execute("SELECT 3").fetchone() == (3,)
    with psycopg.connect(veil.dsn()) as fresh:
        assert fresh.execute("SELECT 4").fetchone() == (4,)


def test_shutdown_lets_running_statements_finish(veil: Veil) -> None:
    busy = psycopg.connect(veil.dsn(), autocommit=True)
    idle = psycopg.connect(veil.dsn(), autocommit=True)
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(
        busy.execute("SELECT pg_sleep(0.7), 'done'").fetchone()))
    worker.start()
    time.sleep(0.2)
    future = asyncio.run_coroutine_threadsafe(veil.server.shutdown(5.0), veil.loop)
    worker.join(10)
    assert results == [("", "done")]  # the running statement completed
    with pytest.raises(psycopg.OperationalError, match="administrator command"):
        idle.execute("SELECT 1")
    future.result(10)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(veil.dsn(), connect_timeout=2)
    busy.close()
    idle.close()
