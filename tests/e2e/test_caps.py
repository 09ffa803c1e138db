"""Policy caps (``max_rows``, ``max_bytes``) end a statement while it streams, on every path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from tests.support.proxy import VeilProcess, basic_config, running_veil

USERS = [("capped", "capped-pw-1", ["capped"], "human")]
POLICIES = [{"name": "capped", "when": {"groups": ["capped"]}, "access": "read-only",
             "mask": {"default": "none", "secret": "none"}, "max_rows": 5, "max_bytes": "2KB"}]


@pytest.fixture
def veil(pg_dsn: str, tmp_path: Path) -> Iterator[VeilProcess]:
    with running_veil(basic_config(pg_dsn, USERS, policies=POLICIES), tmp_path=tmp_path) as proc:
        yield proc


def test_max_rows_ends_the_statement_and_the_session_goes_on(veil: VeilProcess) -> None:
    with psycopg.connect(veil.dsn("capped", "capped-pw-1"), autocommit=True) as conn:
        assert len(conn.execute("SELECT g FROM generate_series(1, 5) g").fetchall()) == 5
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="max_rows 5"):
            conn.execute("SELECT g FROM generate_series(1, 100000) g").fetchall()
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):  # extended protocol, binary
            conn.cursor(binary=True).execute("SELECT g FROM generate_series(1, %s) g", (50,)).fetchall()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_max_bytes_counts_what_flows(veil: VeilProcess) -> None:
    with psycopg.connect(veil.dsn("capped", "capped-pw-1"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="max_bytes"):
            conn.execute("SELECT repeat('x', 5000)").fetchall()
        assert conn.execute("SELECT repeat('x', 100)").fetchone() == ("x" * 100,)


def test_caps_hold_for_copy_and_asyncpg_cursors(veil: VeilProcess) -> None:
    with psycopg.connect(veil.dsn("capped", "capped-pw-1"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ProgramLimitExceeded), conn.cursor().copy(
                "COPY (SELECT g FROM generate_series(1, 1000) g) TO STDOUT") as copy:
            for _ in copy:
                pass
        assert conn.execute("SELECT 2").fetchone() == (2,)

    async def run() -> None:
        conn = await asyncpg.connect(veil.url("capped", "capped-pw-1"))
        try:
            with pytest.raises(asyncpg.exceptions.ProgramLimitExceededError):
                async with conn.transaction():
                    async for _ in conn.cursor("SELECT g FROM generate_series(1, 100) g", prefetch=3):
                        pass
            assert await conn.fetchval("SELECT 3") == 3
        finally:
            await conn.close()

    asyncio.run(run())
