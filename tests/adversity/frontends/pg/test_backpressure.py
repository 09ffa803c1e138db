"""Back-pressure: a client that stops reading pauses the upstream instead of filling veil's memory."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import psycopg
import pytest
from tests.support.proxy import basic_config, running_veil
from tests.support.services import PgServer

pytestmark = pytest.mark.timeout(90)

ROWS, WIDTH = 150_000, 1000  # ~150 MB of result


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def test_a_stalled_client_pauses_the_upstream(pg_dsn: str, pg_server: PgServer, tmp_path: Path) -> None:
    config = basic_config(pg_dsn, [("slow", "pw-slow", ["g"], "human")])
    with running_veil(config, tmp_path=tmp_path) as veil:
        conn = psycopg.connect(veil.dsn("slow", "pw-slow"), autocommit=True)
        conn.execute("SELECT 1")
        baseline = _rss_mb(veil.proc.pid)
        conn.pgconn.send_query(f"SELECT repeat('x', {WIDTH}) FROM generate_series(1, {ROWS})".encode())
        time.sleep(2.0)  # the client reads nothing meanwhile
        grown = _rss_mb(veil.proc.pid) - baseline
        with pg_server.admin() as admin:
            waits = admin.execute("SELECT wait_event FROM pg_stat_activity"
                                  " WHERE query LIKE 'SELECT repeat(%%' AND state = 'active'").fetchall()
        assert grown < 64, f"veil buffered {grown:.0f} MB for a stalled client"
        assert waits == [("ClientWrite",)]  # the server is blocked writing to veil: it was paused
        rows = 0
        while (result := conn.pgconn.get_result()) is not None:
            if result.status == psycopg.pq.ExecStatus.TUPLES_OK:
                rows += result.ntuples
        assert rows == ROWS  # and nothing was lost once the client read again
        conn.close()
