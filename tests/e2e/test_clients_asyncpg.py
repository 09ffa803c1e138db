"""asyncpg through veil gives exactly what it gets directly.

asyncpg is the strictest client veil meets: extended protocol only, binary format
for every type it knows, statements prepared once and re-executed without a new
Describe, portals fetched in slices, COPY in both directions.  Each scenario runs on
a direct connection and through a permissive veil on the same database.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import psycopg
import pytest

from tests.support.proxy import PassThroughSetup, pass_through_veil, url_dsn
from tests.support.services import PgServer

pytestmark = pytest.mark.timeout(60)

Scenario = Callable[[asyncpg.Connection], Awaitable[Any]]

TYPED = """
CREATE TABLE {t} (
    id     integer PRIMARY KEY,
    amount numeric,
    seen   timestamptz,
    ident  uuid,
    doc    jsonb,
    nums   bigint[],
    tags   text[],
    born   date,
    span   interval,
    raw    bytea
);
INSERT INTO {t}
SELECT g, (g * 12345.6789)::numeric * (CASE WHEN g % 3 = 0 THEN -1 ELSE 1 END) + 0.000000000001,
       timestamptz '2024-02-29 23:59:59.999999+00' - g * interval '17 minutes',
       md5(g::text)::uuid, jsonb_build_object('g', g, 'nested', jsonb_build_object('ok', g % 2 = 0)),
       ARRAY[g, -g, 9223372036854775807], ARRAY['a' || g, NULL], date '1970-01-01' + g * 40,
       g * interval '1 day 2 hours', decode(repeat('ab', g), 'hex')
FROM generate_series(1, 300) g;
INSERT INTO {t} (id, amount) VALUES (0, '-Infinity');
"""


@pytest.fixture(scope="module")
def setup(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PassThroughSetup]:
    with pass_through_veil(pg_server, tmp_path_factory.mktemp("veil")) as s:
        yield s


@pytest.fixture
def table(setup: PassThroughSetup) -> str:
    name = f"typed_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(setup.direct_dsn, autocommit=True) as conn:
        conn.execute(TYPED.format(t=name))
    return name


async def both(setup: PassThroughSetup, scenario: Scenario) -> Any:
    """Run ``scenario`` directly and through veil; assert equal results; return them."""
    results = []
    for dsn in (url_dsn(setup.direct_dsn), setup.veil_url()):
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            results.append(await scenario(conn))
        finally:
            await conn.close()
    direct, via_veil = results
    assert via_veil == direct
    return via_veil


async def test_prepared_statement_reused_many_times(setup: PassThroughSetup, table: str) -> None:
    async def scenario(conn: asyncpg.Connection) -> list[Any]:
        stmt = await conn.prepare(f"SELECT id, amount, seen, ident, doc FROM {table} WHERE id = $1")
        rows = [tuple(await stmt.fetchrow(i)) for i in range(300)]
        # the statement cache: the same text via conn.fetch reuses a named statement too
        by_id = f"SELECT id FROM {table} WHERE id = $1"
        rows += [tuple(r) for i in range(50) for r in await conn.fetch(by_id, i)]
        return rows

    rows = await both(setup, scenario)
    assert len(rows) == 350
    assert rows[1][3] == uuid.UUID("c4ca4238-a0b9-2382-0dcc-509a6f75849b")
    assert rows[3][1] == decimal.Decimal("-37037.036699999999")


async def test_binary_types(setup: PassThroughSetup, table: str) -> None:
    async def scenario(conn: asyncpg.Connection) -> list[Any]:
        return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY id")]

    rows = await both(setup, scenario)
    inf, first = rows[0], rows[1]
    assert inf[1] == decimal.Decimal('-Infinity') and inf[2] is None
    assert first[2] == dt.datetime(2024, 2, 29, 23, 42, 59, 999999, tzinfo=dt.UTC)
    assert first[4] == '{"g": 1, "nested": {"ok": false}}'
    assert first[5] == [1, -1, 9223372036854775807] and first[6] == ["a1", None]
    assert first[8] == dt.timedelta(days=1, hours=2) and first[9] == b"\xab"


async def test_cursor_with_prefetch(setup: PassThroughSetup, table: str) -> None:
    async def scenario(conn: asyncpg.Connection) -> list[Any]:
        out = []
        async with conn.transaction():
            async for row in conn.cursor(f"SELECT id, tags FROM {table} WHERE id > $1 ORDER BY id", 10,
                                         prefetch=13):
                out.append(tuple(row))
            cur = await conn.cursor(f"SELECT id FROM {table} ORDER BY id")
            out.append(tuple(await cur.fetch(5)))
            await cur.forward(100)
            out.append(tuple(await cur.fetchrow()))
        return out

    rows = await both(setup, scenario)
    assert len(rows) == 290 + 2 and rows[0] == (11, ["a11", None]) and rows[-1] == (105,)


async def test_copy_from_query_and_to_table(setup: PassThroughSetup, table: str) -> None:
    async def scenario(conn: asyncpg.Connection) -> list[Any]:
        out = io.BytesIO()
        await conn.copy_from_query(f"SELECT id, doc, tags FROM {table} WHERE id <= $1 ORDER BY id", 120,
                                   output=out, format="csv")
        target = f"copy_{uuid.uuid4().hex[:8]}"
        await conn.execute(f"CREATE TEMP TABLE {target} (id integer, doc jsonb, tags text[])")
        await conn.copy_to_table(target, source=io.BytesIO(out.getvalue()), format="csv")
        await conn.copy_records_to_table(target, records=[(1000 + i, '{"r": 1}', ["x"]) for i in range(500)])
        summary = await conn.fetchrow(f"SELECT count(*), sum(id), max(doc->>'g') FROM {target}")
        return [out.getvalue(), tuple(summary)]

    csv_bytes, summary = await both(setup, scenario)
    assert csv_bytes.count(b"\n") == 121 and summary == (621, 7260 + sum(range(1000, 1500)), "99")


async def test_transaction_rollback_and_errors(setup: PassThroughSetup, table: str) -> None:
    async def scenario(conn: asyncpg.Connection) -> list[Any]:
        out: list[Any] = []
        try:
            async with conn.transaction():
                await conn.execute(f"DELETE FROM {table}")
                out.append(await conn.fetchval(f"SELECT count(*) FROM {table}"))
                await conn.execute("SELECT 1/0")
        except asyncpg.DivisionByZeroError as exc:
            out.append(exc.sqlstate)
        out.append(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        try:
            await conn.fetch("SELECT no_such_column FROM pg_class")
        except asyncpg.UndefinedColumnError as exc:
            out.append(exc.sqlstate)
        out.append(await conn.fetchval("SELECT $1::text || '!'", "still ok"))
        return out

    assert await both(setup, scenario) == [0, "22012", 301, "42703", "still ok!"]


async def test_executemany_and_timeout_cancel(setup: PassThroughSetup) -> None:
    async def scenario(conn: asyncpg.Connection) -> list[Any]:
        await conn.execute("CREATE TEMP TABLE em (k integer, v text)")
        await conn.executemany("INSERT INTO em VALUES ($1, $2)", [(i, f"v{i}") for i in range(400)])
        out: list[Any] = [await conn.fetchval("SELECT count(*) FROM em")]
        try:  # asyncpg cancels the statement (a CancelRequest) when the timeout fires
            await conn.execute("SELECT pg_sleep(20)", timeout=0.5)
        except TimeoutError:
            out.append("timeout")
        out.append(await conn.fetchval("SELECT 7"))
        return out

    assert await both(setup, scenario) == [400, "timeout", 7]
