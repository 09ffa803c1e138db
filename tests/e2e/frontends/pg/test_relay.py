"""The relay's interception points: refusals, masking, reasons, pipelining, request accounting."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import asyncpg
import psycopg
import pytest
from tests.e2e.frontends.pg.conftest import PASSWORD, REFUSE_MARKER, USER, Veil

REFUSED = f"SELECT '{REFUSE_MARKER}' AS x"


def test_refusal_in_simple_protocol_keeps_the_session(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        result = conn.pgconn.exec_(REFUSED.encode())  # a plain Query message
        assert result.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"42501"
        message = (result.error_field(psycopg.pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode()
        assert "test-policy" in message and "the statement carries the marker" in message
        assert conn.pgconn.exec_(b"SELECT 7").get_value(0, 0) == b"7"
    refused = [r for r in veil.pipeline.finished if r.outcome.status == "refused"]
    assert len(refused) == 1 and refused[0].outcome.sqlstate == "42501"
    assert refused[0].protocol == "simple"


def test_refusal_in_extended_protocol_keeps_the_session(veil: Veil) -> None:
    with psycopg.connect(veil.dsn()) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT %s::text AS {REFUSE_MARKER}", ("a",))
        conn.rollback()
        assert conn.execute("SELECT %s::int", (5,)).fetchone() == (5,)


def test_refusal_inside_a_pipeline_discards_until_sync(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        with conn.pipeline() as pipe:
            first = conn.execute("SELECT %s::int", (1,))
            pipe.sync()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT %s::text AS {REFUSE_MARKER}", ("b",))
                pipe.sync()
            third = conn.execute("SELECT %s::int", (3,))
        assert first.fetchone() == (1,)
        assert third.fetchone() == (3,)


def test_every_request_is_authorized_and_finished_once(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int, name text)")
        conn.execute("INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 5) g")
        assert len(conn.execute("SELECT * FROM t WHERE id > %s", (2,)).fetchall()) == 3
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
    finished = veil.pipeline.finished
    assert len(finished) == len(veil.pipeline.authorized) == 4
    assert len({id(r) for r in finished}) == 4  # exactly once each
    select = next(r for r in finished if r.sql.startswith("SELECT * FROM t"))
    assert select.outcome.rows == 3 and select.outcome.bytes > 0 and select.protocol == "extended"
    insert = next(r for r in finished if r.sql.startswith("INSERT"))
    assert insert.outcome.rows == 5
    failed = next(r for r in finished if "1/0" in r.sql)
    assert (failed.outcome.status, failed.outcome.sqlstate) == ("error", "22012")


def test_masking_text_and_binary(masking_veil: Veil) -> None:
    with psycopg.connect(masking_veil.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE p (id int, email text, note varchar)")
        conn.execute("INSERT INTO p VALUES (1, 'ann@example.com', 'hello'), (2, NULL, 'x')")
        assert conn.execute("SELECT * FROM p ORDER BY id").fetchall() == [
            (1, "ANN@EXAMPLE.COM", "HELLO"), (2, None, "X")]
        with conn.cursor(binary=True) as cur:
            assert cur.execute("SELECT id, email FROM p ORDER BY id").fetchall() == [
                (1, "ANN@EXAMPLE.COM"), (2, None)]
        with conn.pipeline():
            a = conn.execute("SELECT email FROM p WHERE id = %s", (1,))
            b = conn.execute("SELECT note FROM p WHERE id = %s", (2,), binary=True)
        assert a.fetchone() == ("ANN@EXAMPLE.COM",) and b.fetchone() == ("X",)
    binary_plans = [cols for cols in masking_veil.pipeline.plans if cols and cols[-1].format == 1]
    assert binary_plans  # Bind's result formats reached plan_mask


async def test_masking_of_reexecuted_prepared_statements(masking_veil: Veil) -> None:
    conn = await asyncpg.connect(masking_veil.url())
    try:
        stmt = await conn.prepare("SELECT $1::text || '-x' AS v, $2::int AS n")
        for i in range(5):  # asyncpg re-executes without describing again
            assert await stmt.fetchrow(f"row{i}", i) == (f"ROW{i}-X", i)
        async with conn.transaction():
            query = "SELECT 'c' || g FROM generate_series(1, 25) g"
            rows = [r async for r in conn.cursor(query, prefetch=10)]
        assert [r[0] for r in rows] == [f"C{g}" for g in range(1, 26)]
    finally:
        await conn.close()


def test_masking_failure_fails_closed(masking_veil: Veil) -> None:
    with psycopg.connect(masking_veil.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InternalError_, match="could not be masked"):
            conn.execute("SELECT v FROM (VALUES ('ok'), ('boom'), ('after')) AS t(v)").fetchall()
        assert conn.execute("SELECT 'fine'").fetchone() == ("FINE",)
    failed = [r for r in masking_veil.pipeline.finished if r.outcome.status == "error"]
    assert failed and failed[0].outcome.sqlstate == "XX000"


def test_error_and_notice_fields_are_masked(veil: Veil) -> None:
    notices: list[str] = []
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("DO $$ BEGIN RAISE NOTICE 'n: secret-detail'; END $$")
        with pytest.raises(psycopg.errors.RaiseException) as info:
            conn.execute("DO $$ BEGIN RAISE EXCEPTION 'e: secret-detail'; END $$")
    assert notices == ["n: [masked]"]
    assert "secret-detail" not in str(info.value) and "[masked]" in str(info.value)


def test_notifications_are_masked(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        conn.execute("LISTEN ch")
        conn.execute("NOTIFY ch, 'a secret payload'")
        payloads = [n.payload for n in conn.notifies(timeout=2, stop_after=1)]
    assert payloads == ["a [masked] payload"]


def test_reason_set_show_reset_and_comment(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        conn.execute("SET veil.reason = 'INC-7 it''s urgent'")
        assert conn.execute("SHOW veil.reason").fetchone() == ("INC-7 it's urgent",)
        conn.execute("SELECT 1")
        conn.execute("/* veil.reason: per-statement */ SELECT 2")
        conn.execute("SET veil.reason TO other")
        conn.execute("SELECT 3")
        conn.execute("RESET veil.reason")
        assert conn.execute("SHOW veil.reason").fetchone() == ("",)
        # never reached the database
        assert conn.execute("SELECT current_setting('veil.reason', true)").fetchone() in ((None,), ("",))
    reasons = veil.pipeline.reasons
    assert reasons["SELECT 1"] == "INC-7 it's urgent"
    assert reasons["SELECT 2"] == "per-statement"
    assert reasons["SELECT 3"] == "other"
    assert not any(r.sql.startswith(("SET", "SHOW", "RESET")) for r in veil.pipeline.authorized)


def test_copy_in_and_out_extended(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE c (a int, b text)")
        with conn.cursor() as cur, cur.copy("COPY c FROM STDIN") as copy:
            for i in range(100):
                copy.write_row((i, f"r{i}"))
        with conn.cursor() as cur, cur.copy("COPY c TO STDOUT") as copy:
            rows = list(copy.rows())
        assert len(rows) == 100
        assert conn.execute("SELECT count(*) FROM c").fetchone() == (100,)
    copy_in = next(r for r in veil.pipeline.finished if r.sql.startswith("COPY c FROM"))
    assert copy_in.outcome.rows == 100


def test_large_objects_through_the_function_call_message(veil: Veil, tmp_path: Path) -> None:
    source = tmp_path / "blob.bin"
    source.write_bytes(b"large object payload " * 100)
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    conninfo = f"host=127.0.0.1 port={veil.port} dbname={veil.dbname} user={USER}"
    done = subprocess.run(["psql", conninfo, "-X", "-v", "ON_ERROR_STOP=1", "-c", f"\\lo_import {source}"],
                          capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    oid = int(done.stdout.split()[-1])
    with psycopg.connect(veil.dsn()) as conn:
        assert conn.execute("SELECT lo_get(%s)", (oid,)).fetchone() == (source.read_bytes(),)
    calls = [r.sql for r in veil.pipeline.finished if r.protocol == "function-call"]
    assert any("lowrite" in sql for sql in calls) and any("lo_open" in sql for sql in calls)


def test_a_refusal_aborts_the_transaction_like_any_failed_statement(veil: Veil) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE tx (v int)")
        pg = conn.pgconn
        pg.exec_(b"BEGIN")
        pg.exec_(b"INSERT INTO tx VALUES (1)")
        refused = pg.exec_(REFUSED.encode())
        assert refused.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"42501"
        assert pg.transaction_status == psycopg.pq.TransactionStatus.INERROR
        assert pg.exec_(b"COMMIT").command_status == b"ROLLBACK"
        assert conn.execute("SELECT count(*) FROM tx").fetchone() == (0,)
    with psycopg.connect(veil.dsn()) as conn:  # extended protocol, psycopg's own transaction
        conn.execute("INSERT INTO tx VALUES (2)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT %s::text AS {REFUSE_MARKER}", ("x",))
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM tx").fetchone() == (0,)


@pytest.mark.parametrize("sql", ["SET veil.reason = 'x'; SELECT 1", "select 1; reset VEIL.reason",
                                 "SELECT set_config('veil.reason', 'x', false)"])
def test_veil_settings_cannot_be_smuggled_to_the_database(veil: Veil, sql: str) -> None:
    with psycopg.connect(veil.dsn(), autocommit=True) as conn:
        result = conn.pgconn.exec_(sql.encode())
        assert result.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"0A000"
        assert conn.execute("SELECT current_setting('veil.reason', true)").fetchone() in ((None,), ("",))
    assert [r.outcome.status for r in veil.pipeline.finished if r.sql == sql] == ["refused"]
