"""Differential check against the real server: what veil calls read-only safe must be.

Every statement ``read_only_violations`` accepts is run in a read-only session; if
PostgreSQL then raises 25006 (read_only_sql_transaction), the classifier missed a
write.  The corpus is curated statements plus every zero-argument volatile function
of the server's own ``pg_catalog`` (so a new server version's new side-effecting
function shows up here).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from veil.sql import analyze, read_only_violations

CORPUS = [
    "SELECT 1",
    "SELECT * FROM t",
    "SELECT a, count(*) OVER (PARTITION BY b ORDER BY a) FROM t",
    "WITH x AS (SELECT * FROM t) SELECT * FROM x JOIN t USING (a)",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
    "SELECT * FROM t, LATERAL (SELECT a * 2 AS d) l",
    "SELECT * FROM generate_series(1, 3) g, unnest(ARRAY[1, 2]) u",
    "SELECT row_to_json(t), t::text, to_jsonb(t) FROM t",
    "VALUES (1, 'a'), (2, 'b')",
    "TABLE t",
    "SELECT a FROM t UNION SELECT b FROM t INTERSECT SELECT a FROM t",
    "SELECT * FROM t TABLESAMPLE SYSTEM (50)",
    "SELECT * FROM t WHERE a IN (SELECT a FROM t) AND EXISTS (SELECT 1)",
    "EXPLAIN SELECT * FROM t",
    "EXPLAIN DELETE FROM t",
    "EXPLAIN ANALYZE SELECT * FROM t",
    "SHOW ALL",
    "SHOW default_transaction_read_only",
    "SELECT current_setting('default_transaction_read_only')",
    "SELECT set_config('application_name', 'x', true)",
    "SELECT pg_sleep(0)",
    "SELECT currval('s')",
    "SELECT lastval()",
    "SELECT txid_current_if_assigned()",
    "SELECT pg_current_xact_id_if_assigned()",
    "SELECT * FROM pg_stat_activity",
    "SELECT pg_size_pretty(pg_database_size(current_database()))",
    "SELECT gen_random_uuid(), random(), clock_timestamp()",
    "BEGIN",
    "BEGIN READ ONLY",
    "COMMIT",
    "DISCARD ALL",
    "RESET ALL",
    "DEALLOCATE ALL",
    "SET LOCAL statement_timeout = '1s'",
    "SET default_transaction_read_only = on",
    "SELECT set_config('transaction_read_only', 'on', true)",
    "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t",
    "UNLISTEN *",
]


@pytest.fixture
def read_only(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("CREATE TABLE t (a int, b int); INSERT INTO t VALUES (1, 2), (3, 4); CREATE SEQUENCE s")
        admin.execute("SELECT nextval('s')")
    conn = psycopg.connect(pg_dsn, autocommit=True, options="-c default_transaction_read_only=on")
    yield conn
    conn.close()


def _server_says(conn: psycopg.Connection, sql: str) -> str | None:
    try:
        conn.execute(sql)
    except psycopg.Error as exc:
        return exc.sqlstate
    finally:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
    return None


def test_the_harness_sees_a_write(read_only: psycopg.Connection) -> None:
    assert _server_says(read_only, "DELETE FROM t") == "25006"


def test_accepted_statements_do_not_write(read_only: psycopg.Connection) -> None:
    accepted = [sql for sql in CORPUS if all(not read_only_violations(i) for i in analyze(sql))]
    assert len(accepted) == len(CORPUS)  # the corpus is all reads; a refusal here is a false positive
    missed = [sql for sql in accepted if _server_says(read_only, sql) == "25006"]
    assert missed == []


def test_zero_argument_volatile_catalog_functions(read_only: psycopg.Connection) -> None:
    names = [r[0] for r in read_only.execute(
        "SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace "
        "AND provolatile = 'v' AND prokind = 'f' AND pronargs = 0 AND prorettype <> 'trigger'::regtype "
        "AND proname NOT LIKE '%handler' ORDER BY 1").fetchall()]
    assert len(names) > 20
    accepted = [n for n in names if not read_only_violations(analyze(f"SELECT {n}()")[0])]
    missed = [n for n in accepted if _server_says(read_only, f"SELECT {n}()") == "25006"]
    assert missed == []
