"""Agent front ends: what a /v1/query or MCP call costs on top of the database.

``python -m bench.agents_http [--seconds 2.0] [--rows 10000]``

Layers measured one at a time, sequentially (one caller), against the same table:

* ``psycopg``: one pooled async connection, the statement alone (the floor);
* ``pool``: ``UpstreamPool.execute`` - its own transaction, settings, ``DISCARD ALL``;
* ``AgentService.query``: pass-through pipeline (the front end's own cost), then the
  composed ``VeilPipeline`` (policy, lineage-aware masking, signed audit);
* ``POST /v1/query``: in-process through the ASGI app, credentials checked per request
  (static password vs dev-issuer EdDSA token).

Then the rows/s of one large result through pool + agent (raw text values to masked JSON).
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
from veil.app import build_pipeline
from veil.cli.keys import generate_keys
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


async def run(dsn: str, seconds: float, rows: int
              ) -> tuple[list[tuple[str, tuple[float, float, int]]], list[tuple[str, int, float]]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text, name text)")
        conn.execute("INSERT INTO customers SELECT g, 'user' || g || '@example.org', 'Name ' || g "
                     f"FROM generate_series(1, {max(rows, 1000)}) g")
        conn.execute("ANALYZE customers")
    tmp = Path(tempfile.mkdtemp(prefix="veil-bench-"))
    keys = generate_keys(tmp / "keys")
    settings = parse_config(f"""
upstream: {{postgres: "{dsn}"}}
keys: {{masking: "file:{keys['masking.key']}", audit_signing: "file:{keys['audit.key']}"}}
identity:
  users: [{{name: robot, password: bench-pw, kind: agent}}]
  dev_issuer: {{key: "file:{tmp}/dev.key"}}
policies: [{{name: agents, when: {{kind: agent}}, access: read-only, mask: {{default: pseudonymize}}}}]
audit: {{store: "sqlite:///{tmp}/audit.db"}}
""")
    assert settings.identity.dev_issuer is not None
    ensure_key(settings.identity.dev_issuer)
    token = issue_token(settings.identity.dev_issuer, identity="claude", kind="agent", ttl=3600,
                        clock=time.time)
    basic = "Basic " + base64.b64encode(b"robot:bench-pw").decode()
    latencies = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        latencies.append(("psycopg (floor)", await latency(
            lambda i: conn.execute(SQL.replace("$1", "%s"), [i]), seconds)))
    pool = UpstreamPool(dsn, max_size=2)
    session = Session(Identity("robot", kind="agent"), frontend="http")
    latencies.append(("pool.execute", await latency(lambda i: pool.execute(SQL, [i]), seconds)))
    plain = AgentService(PassThroughPipeline(), pool)
    real = build_pipeline(settings)
    veiled = AgentService(real, pool, metrics=real.metrics)
    throughput = []
    try:
        for label, agent in (("pass-through", plain), ("VeilPipeline", veiled)):
            latencies.append((f"AgentService.query ({label})", await latency(
                lambda i, agent=agent: agent.query(session, SQL, params=[i]), seconds)))
            app = create_app(agent, IdentityProvider(settings.identity), mcp=False)
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                for how, auth in (("basic", basic), ("bearer", f"Bearer {token}")):
                    async def call(i: int, auth: str = auth, http: httpx.AsyncClient = http) -> None:
                        r = await http.post("/v1/query", json={"sql": SQL, "params": [i]},
                                            headers={"Authorization": auth})
                        r.raise_for_status()

                    latencies.append((f"POST /v1/query ({label}, {how})", await latency(call, seconds)))
            start = time.perf_counter()
            answer = await agent.query(session, "SELECT id, email, name FROM customers ORDER BY id",
                                       max_rows=rows)
            throughput.append((label, len(answer.rows), len(answer.rows) / (time.perf_counter() - start)))
    finally:
        real.close()
        await pool.close()
    return latencies, throughput


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
        latencies, throughput = asyncio.run(run(dsn, args.seconds, args.rows))
    lines = ["| layer | median ms | p95 ms | calls |", "|---|---|---|---|"]
    for label, (median, p95, n) in latencies:
        lines.append(f"| {label} | {median:.2f} | {p95:.2f} | {n} |")
    large = [f"- {label}: {n} rows, {per_s:,.0f} rows/s (raw text -> masked -> JSON)"
             for label, n, per_s in throughput]
    body = "\n".join([
        f"Measured on {machine()}. One sequential caller; `SELECT id, email, name ... WHERE id = $1`. "
        "`VeilPipeline` is the real composition: policy, lineage-aware masking of email and name "
        "(pseudonymize), signed sqlite audit. Shared 2-core VM with other work running: noisy.", "",
        *lines, "", "One large result through AgentService:", *large, "",
        f"Reproduce: `.venv/bin/python -m bench.agents_http --seconds {args.seconds} --rows {args.rows}`",
    ])
    print(body)
    write_section("Agent front ends (MCP/HTTP)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
