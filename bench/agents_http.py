"""Agent front ends: what a /v1/query or MCP call costs on top of the database.

``python -m bench.agents_http [--seconds 2.0] [--rows 10000]``

Layers measured one at a time, sequentially (one caller), against the same table:

* ``psycopg``: one pooled async connection, the statement alone (the floor);
* ``pool``: ``UpstreamPool.execute`` - its own transaction, settings, ``DISCARD ALL``;
* ``agent``: ``AgentService.query`` with a pass-through pipeline (JSON conversion, hooks);
* ``http basic`` / ``http bearer``: ``POST /v1/query`` in-process through the ASGI app,
  credentials checked per request (static password vs dev-issuer EdDSA token).

Then the rows/s of one large result through pool + agent (raw text values to JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import psycopg
from tests.support.services import find_pg, temp_database

from bench import machine, write_section
from veil.config import parse_config
from veil.frontends.http import create_app
from veil.frontends.mcp.agent import AgentService
from veil.identity import IdentityProvider, ensure_key, issue_token
from veil.pipeline.hooks import PassThroughPipeline, Session
from veil.upstream.pool import UpstreamPool
from veil.values import Identity

SQL = "SELECT id, email, name FROM customers WHERE id = $1"


async def latency(call: Callable[[int], Awaitable[object]], seconds: float) -> tuple[float, float, int]:
    """(median ms, p95 ms, calls) of ``call`` repeated for about ``seconds``."""
    for i in range(20):
        await call(i)
    times = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        await call(i % 1000 + 1)
        times.append((time.perf_counter() - start) * 1000)
        i += 1
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)], len(times)


async def run(dsn: str, seconds: float, rows: int) -> list[tuple[str, tuple[float, float, int]]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text, name text)")
        conn.execute("INSERT INTO customers SELECT g, 'user' || g || '@example.org', 'Name ' || g "
                     f"FROM generate_series(1, {max(rows, 1000)}) g")
        conn.execute("ANALYZE customers")
    tmp = Path(tempfile.mkdtemp(prefix="veil-bench-"))
    settings = parse_config(f"""
upstream: {{postgres: "postgresql://u@127.0.0.1/db"}}
identity:
  users: [{{name: robot, password: bench-pw, kind: agent}}]
  dev_issuer: {{key: "file:{tmp}/dev.key"}}
""")
    assert settings.identity.dev_issuer is not None
    ensure_key(settings.identity.dev_issuer)
    token = issue_token(settings.identity.dev_issuer, identity="claude", kind="agent", ttl=3600,
                        clock=time.time)
    results = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        results.append(("psycopg (floor)", await latency(
            lambda i: conn.execute(SQL.replace("$1", "%s"), [i]), seconds)))
    pool = UpstreamPool(dsn, max_size=2)
    agent = AgentService(PassThroughPipeline(), pool)
    session = Session(Identity("robot", kind="agent"), frontend="http")
    results.append(("pool.execute", await latency(lambda i: pool.execute(SQL, [i]), seconds)))
    results.append(("AgentService.query", await latency(
        lambda i: agent.query(session, SQL, params=[i]), seconds)))
    app = create_app(agent, IdentityProvider(settings.identity), mcp=False)
    basic = "Basic " + base64.b64encode(b"robot:bench-pw").decode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)),
                                 base_url="http://bench") as http:
        for label, auth in (("POST /v1/query (basic)", basic),
                            ("POST /v1/query (bearer)", f"Bearer {token}")):
            async def call(i: int, auth: str = auth) -> None:
                r = await http.post("/v1/query", json={"sql": SQL, "params": [i]},
                                    headers={"Authorization": auth})
                r.raise_for_status()

            results.append((label, await latency(call, seconds)))
    start = time.perf_counter()
    answer = await agent.query(session, "SELECT id, email, name FROM customers ORDER BY id", max_rows=rows)
    elapsed = time.perf_counter() - start
    results.append((f"{len(answer.rows)} rows via AgentService",
                    (elapsed * 1000, len(answer.rows) / elapsed, 1)))
    await pool.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rows", type=int, default=10000)
    args = parser.parse_args()
    server = find_pg()
    if server is None:
        print("no PostgreSQL available")
        return 1
    with temp_database(server, prefix="veil_bench") as dsn:
        results = asyncio.run(run(dsn, args.seconds, args.rows))
    lines = ["| layer | median ms | p95 ms | calls |", "|---|---|---|---|"]
    for label, (median, p95, n) in results[:-1]:
        lines.append(f"| {label} | {median:.2f} | {p95:.2f} | {n} |")
    label, (ms, per_s, _) = results[-1]
    body = "\n".join([
        f"Measured on {machine()}. One sequential caller, pass-through pipeline (no masking), "
        "so these are the front end's own costs; shared 2-core VM, figures are noisy.", "",
        *lines, "", f"Large result: {label} in {ms:.0f} ms ({per_s:,.0f} rows/s, raw text -> JSON).", "",
        f"Reproduce: `.venv/bin/python -m bench.agents_http --seconds {args.seconds} --rows {args.rows}`",
    ])
    print(body)
    write_section("Agent front ends (MCP/HTTP)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
