"""UpstreamPool against real PostgreSQL: raw text values, descriptions, caps, isolation between calls."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from veil.errors import UpstreamError
from veil.upstream.pool import QueryFailed, UpstreamPool, text_param


@pytest.fixture
async def pool(seeded_dsn: str):  # type: ignore[no-untyped-def]
    pool = UpstreamPool(seeded_dsn, max_size=2, chunk_rows=8)
    yield pool
    await pool.close()


async def test_rows_are_the_wire_text_and_columns_name_their_source(pool: UpstreamPool, seeded_dsn: str
                                                                     ) -> None:
    result = await pool.execute(
        "SELECT id, email, signup, id::numeric / 3 AS third FROM customers ORDER BY id")
    assert result.rows[0] == [b"1", b"ann@example.org", b"2021-01-02", b"0.33333333333333333333"]
    assert result.rows[2][1] is None and result.rows[2][2] is None
    with psycopg.connect(seeded_dsn) as conn:
        oid = conn.execute("SELECT 'customers'::regclass::oid").fetchone()[0]  # type: ignore[index]
    assert [(c.name, c.type_oid, c.table_oid, c.attnum, c.format) for c in result.columns] == [
        ("id", 23, oid, 1, 0), ("email", 25, oid, 2, 0), ("signup", 1082, oid, 4, 0),
        ("third", 1700, 0, 0, 0)]
    assert result.command == "SELECT 3" and not result.truncated


async def test_empty_results_keep_their_description(pool: UpstreamPool) -> None:
    result = await pool.execute("SELECT id, email FROM customers WHERE false")
    assert [c.name for c in result.columns] == ["id", "email"] and result.rows == []
    assert result.command == "SELECT 0"


async def test_commands_report_their_tag(pool: UpstreamPool) -> None:
    assert (await pool.execute("UPDATE orders SET total = total WHERE id < 4")).command == "UPDATE 3"
    result = await pool.execute("INSERT INTO customers (id) VALUES (10) RETURNING id")
    assert result.rows == [[b"10"]] and result.command == "INSERT 0 1"


@pytest.mark.parametrize(("max_rows", "max_bytes", "expected"), [(5, None, 5), (None, 10, 5), (20, 4, 2)])
async def test_caps_stop_the_statement(pool: UpstreamPool, max_rows: int | None, max_bytes: int | None,
                                       expected: int) -> None:
    result = await pool.execute("SELECT lpad(g::text, 2, '0') FROM generate_series(1, 100000) g",
                                max_rows=max_rows, max_bytes=max_bytes)
    assert len(result.rows) == expected and result.truncated
    assert (await pool.execute("SELECT 1")).rows == [[b"1"]]  # the connection came back clean


async def test_read_only_and_timeouts_are_server_side(pool: UpstreamPool) -> None:
    with pytest.raises(QueryFailed) as ro:
        await pool.execute("DELETE FROM customers", settings={"default_transaction_read_only": "on"})
    assert ro.value.sqlstate == "25006"
    with pytest.raises(QueryFailed) as timeout:
        await pool.execute("SELECT pg_sleep(5)", statement_timeout_ms=50)
    assert timeout.value.sqlstate == "57014"
    assert (await pool.execute("SELECT count(*) FROM customers")).rows == [[b"3"]]


async def test_session_state_never_leaks_to_the_next_call(pool: UpstreamPool) -> None:
    await pool.execute("SET search_path = nowhere")
    await pool.execute("SELECT set_config('application_name', 'leak', false)")
    await pool.execute("PREPARE p AS SELECT 1")
    for _ in range(3):  # whichever pooled connection answers
        assert (await pool.execute("SHOW search_path")).rows == [[b'"$user", public']]
        assert (await pool.execute("SELECT count(*) FROM pg_prepared_statements")).rows == [[b"0"]]
    result = await pool.execute("SELECT current_setting('statement_timeout')", statement_timeout_ms=1234)
    assert result.rows == [[b"1234ms"]]
    assert (await pool.execute("SELECT current_setting('statement_timeout')")).rows == [[b"0"]]


async def test_concurrent_calls_share_at_most_max_size_connections(pool: UpstreamPool, seeded_dsn: str
                                                                   ) -> None:
    results = await asyncio.gather(*(pool.execute("SELECT pg_sleep(0.05), $1::int", [i]) for i in range(6)))
    assert sorted(int(r.rows[0][1]) for r in results) == list(range(6))  # type: ignore[arg-type]
    with psycopg.connect(seeded_dsn) as conn:
        n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'veil-agents'"
                         " AND datname = current_database()").fetchone()[0]  # type: ignore[index]
    assert 1 <= n <= 2


async def test_errors_carry_sqlstate_but_no_detail(pool: UpstreamPool) -> None:
    with pytest.raises(QueryFailed) as exc:
        await pool.execute("INSERT INTO customers (id, email) VALUES (1, 'secret@example.org')")
    assert exc.value.sqlstate == "23505"
    assert "secret@example.org" not in str(exc.value)


async def test_unreachable_upstream_and_params() -> None:
    pool = UpstreamPool("host=127.0.0.1 port=1 user=x dbname=x", connect_timeout=1)
    with pytest.raises(UpstreamError, match="cannot connect"):
        await pool.execute("SELECT 1")
    assert not await pool.ping()
    values = (None, True, False, 3, 1.5, "x")
    assert [text_param(v) for v in values] == [None, "true", "false", "3", "1.5", "x"]
    with pytest.raises(UpstreamError):
        text_param([1])  # type: ignore[arg-type]


@pytest.mark.parametrize("sql", ["COPY customers TO STDOUT", "COPY customers (id) FROM STDIN"])
async def test_copy_is_refused_without_hanging(pool: UpstreamPool, sql: str) -> None:
    with pytest.raises(QueryFailed) as exc:
        await asyncio.wait_for(pool.execute(sql), 10)
    assert exc.value.sqlstate == "0A000"
    assert (await pool.execute("SELECT count(*) FROM customers")).rows == [[b"3"]]


async def test_startup_only_parameters_are_not_set_per_transaction(pool: UpstreamPool) -> None:
    result = await pool.execute("SELECT current_setting('application_name')",
                                settings={"options": "-c x=y", "application_name": "veil-agent-x"})
    assert result.rows == [[b"veil-agent-x"]]
    with pytest.raises(QueryFailed):  # an unknown setting fails the call closed
        await pool.execute("SELECT 1", settings={"no_such_setting_at_all": "1"})


async def test_a_caller_that_goes_away_cancels_the_statement(pool: UpstreamPool, seeded_dsn: str) -> None:
    task = asyncio.create_task(pool.execute("SELECT pg_sleep(30) /* veil-cancel-probe */"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with psycopg.connect(seeded_dsn) as conn:
        for _ in range(50):
            running = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                   "AND query LIKE '%veil-cancel-probe%' AND pid <> pg_backend_pid()"
                                   ).fetchone()[0]  # type: ignore[index]
            if running == 0:
                break
            await asyncio.sleep(0.1)
    assert running == 0
    assert (await pool.execute("SELECT 1")).rows == [[b"1"]]
