"""The agent front ends over the composed VeilPipeline: policy, lineage-aware masking, the signed audit."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from mcp import Client, StdioServerParameters

from veil.app import build_pipeline
from veil.cli.keys import generate_keys
from veil.config import load_config
from veil.frontends.http import create_app
from veil.frontends.mcp import FixedSession, build_mcp_server
from veil.frontends.mcp.agent import AgentService, Refused
from veil.frontends.mcp.stdio import catalog_for
from veil.identity import IdentityProvider
from veil.pipeline.hooks import Request
from veil.pipeline.service import VeilPipeline
from veil.upstream.pool import UpstreamPool
from veil.values import Identity

Setup = tuple[httpx.AsyncClient, VeilPipeline, Path]
ROOT = Path(__file__).resolve().parents[3]
ROBOT = "Basic " + base64.b64encode(b"robot:pw-robot").decode()


def write_config(tmp_path: Path, dsn: str) -> Path:
    keys = generate_keys(tmp_path / "keys")
    path = tmp_path / "veil.yaml"
    path.write_text(yaml.safe_dump({
        "upstream": {"postgres": dsn},
        "keys": {"masking": f"file:{keys['masking.key']}", "audit_signing": f"file:{keys['audit.key']}"},
        "identity": {"users": [{"name": "robot", "password": "pw-robot", "kind": "agent", "groups": ["bots"]},
                               {"name": "alice", "password": "pw-alice", "kind": "human"}]},
        "policies": [
            {"name": "ai-agents", "when": {"kind": "agent"}, "access": "read-only", "require_reason": True,
             "mask": {"default": "pseudonymize"}, "tables": {"deny": ["public.orders"]}},
            {"name": "humans", "when": {"identities": ["alice"]}, "access": "read-only",
             "mask": {"default": "none"}},
        ],
        "audit": {"store": f"sqlite:///{tmp_path}/audit.db"},
    }))
    return path


@pytest.fixture
async def setup(tmp_path: Path, seeded_dsn: str
                ) -> AsyncIterator[Setup]:
    path = write_config(tmp_path, seeded_dsn)
    settings = load_config(path)
    pipeline = build_pipeline(settings)
    pool = UpstreamPool(seeded_dsn, max_size=2)
    service = AgentService(pipeline, pool, metrics=pipeline.metrics)
    app = create_app(service, IdentityProvider(settings.identity), mcp=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://veil") as client:
        yield client, pipeline, path
    await pool.close()
    pipeline.close()


async def query(client: httpx.AsyncClient, auth: str, sql: str,
                reason: str | None = "INC-1") -> httpx.Response:
    return await client.post("/v1/query", headers={"Authorization": auth},
                             json={"sql": sql, **({"reason": reason} if reason else {})})


async def test_masked_stable_and_audited(setup: Setup) -> None:
    client, pipeline, path = setup
    first = await query(client, ROBOT, "SELECT id, email, name FROM customers ORDER BY id")
    assert first.status_code == 200, first.text
    rows = first.json()["rows"]
    emails = [r[1] for r in rows]
    assert emails[0] != "ann@example.org" and "@" in emails[0] and emails[2] is None
    assert rows[0][2] != "Ann Lee"
    masking = {m["column"]: m for m in first.json()["masking"]}
    assert masking["email"]["type"] == "email" and masking["email"]["count"] == 2
    again = await query(client, ROBOT, "SELECT email FROM customers WHERE id = 1")
    assert again.json()["rows"] == [[emails[0]]]  # stable pseudonyms
    clear = await query(client, "Basic " + base64.b64encode(b"alice:pw-alice").decode(),
                        "SELECT email FROM customers WHERE id = 1")
    assert clear.json()["rows"] == [["ann@example.org"]]  # a different policy, the same path

    no_reason = await query(client, ROBOT, "SELECT id FROM customers", reason=None)
    denied = await query(client, ROBOT, "SELECT id FROM orders")
    write = await query(client, ROBOT, "UPDATE customers SET name = 'x'")
    for refused in (no_reason, denied, write):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"].startswith("veil: refused by policy ai-agents")

    metrics = (await client.get("/metrics", headers={"Authorization": ROBOT})).text
    for line in ('veil_statements_total{decision="allowed",frontend="http"} 3.0',
                 'veil_statements_total{decision="refused",frontend="http"} 3.0',
                 'veil_masked_values_total{method="pseudonymize",type="email"} 3.0',
                 'veil_latency_seconds_count{phase="upstream"} 3.0',
                 'veil_latency_seconds_count{phase="authorize"} 6.0'):
        assert line in metrics, metrics
    pipeline.audit.writer.flush()  # durable and under a signed checkpoint before reading it back
    export = subprocess.run([sys.executable, "-m", "veil", "audit", "export", "-c", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert export.returncode == 0, export.stderr
    assert "ann@example.org" not in export.stdout and "Ann Lee" not in export.stdout
    requests = [e for e in map(json.loads, export.stdout.splitlines()) if e.get("type") == "request"]
    robot = [e for e in requests if e["identity"]["subject"] == "robot"]
    assert [(e["frontend"], e["tool"], e["outcome"]["status"]) for e in robot] == [
        ("http", "/v1/query", "ok"), ("http", "/v1/query", "ok"), ("http", "/v1/query", "refused"),
        ("http", "/v1/query", "refused"), ("http", "/v1/query", "refused")]
    assert all(e["identity"]["kind"] == "agent" for e in robot)
    assert [m["count"] for m in robot[0]["masking"] if m.get("column") == "email"] == [2]
    verify = subprocess.run([sys.executable, "-m", "veil", "audit", "verify", "-c", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_http_and_mcp_refuse_with_the_same_text(setup: Setup,
                                                      seeded_dsn: str) -> None:
    client, pipeline, _ = setup
    r = await query(client, ROBOT, "DELETE FROM customers")
    pool = UpstreamPool(seeded_dsn)
    try:
        service = AgentService(pipeline, pool)
        session = service.open_session(Identity("robot", ("bots",), "agent"), "mcp", client_addr="127.0.0.1")
        with pytest.raises(Refused) as exc:
            await service.query(session, "DELETE FROM customers", reason="x")
    finally:
        await pool.close()
    assert r.json()["error"]["message"] == str(exc.value)
    assert str(exc.value).endswith("DELETE writes data")


async def test_mcp_stdio_gives_the_http_values(setup: Setup) -> None:
    """Two processes, one key: the agent sees the same pseudonyms over MCP as over HTTP."""
    client, pipeline, path = setup
    sql = "SELECT email, name FROM customers ORDER BY id"
    over_http = (await query(client, ROBOT, sql)).json()["rows"]
    pipeline.close()  # hand the audit log over (one writer per node), as a stopped veil would
    env = {**os.environ, "VEIL_CONFIG": str(path), "VEIL_TOKEN": "robot:pw-robot", "PYTHONPATH": str(ROOT),
           "VEIL_TOY_PIPELINE": "real"}
    params = StdioServerParameters(command=sys.executable, env=env, cwd=str(ROOT),
                                   args=[str(ROOT / "tests/e2e/agents/toy_stdio.py")])
    async with Client(params) as mcp:
        result = await mcp.call_tool("query", {"sql": sql, "reason": "INC-2"})
        assert not result.is_error, result.content
        assert result.structured_content["rows"] == over_http  # type: ignore[index]
        refused = await mcp.call_tool("query", {"sql": sql})
        assert refused.is_error and "veil: refused by policy ai-agents" in refused.content[0].text  # type: ignore[union-attr]
    export = subprocess.run([sys.executable, "-m", "veil", "audit", "export", "-c", str(path)],
                            capture_output=True, text=True, timeout=60)
    events = [e for e in map(json.loads, export.stdout.splitlines()) if e.get("frontend") == "mcp"]
    assert [e["type"] for e in events] == ["connect", "request", "request", "disconnect"]
    assert [e["outcome"]["status"] for e in events if e["type"] == "request"] == ["ok", "refused"]
    assert all(e["identity"] == {"subject": "robot", "groups": ["bots"], "kind": "agent", "source": "static",
                                 "actor": []} for e in events)
    assert events[1]["tool"] == "query" and events[1]["reason"]["length"] == len("INC-2")


async def test_tables_the_policy_refuses_are_not_listed(setup: Setup, seeded_dsn: str) -> None:
    _, pipeline, _ = setup
    pool = UpstreamPool(seeded_dsn, max_size=1)
    try:
        agent = AgentService(pipeline, pool, metrics=pipeline.metrics)
        finished: list[tuple[str | None, str]] = []
        real_finish = pipeline.finish

        def recording_finish(request: Request) -> None:  # the real finish runs; we also note what it saw
            finished.append((request.tool, request.outcome.status))
            real_finish(request)

        pipeline.finish = recording_finish  # type: ignore[method-assign]
        catalog = catalog_for(pipeline.settings, agent)
        robot = agent.open_session(Identity("robot", ("bots",), "agent"), "mcp", client_addr="127.0.0.1")
        alice = agent.open_session(Identity("alice"), "mcp", client_addr="127.0.0.1")
        async with Client(build_mcp_server(agent, catalog, FixedSession(robot))) as mcp:
            listed = await mcp.call_tool("list_tables", {})
            names = [t["table"] for t in listed.structured_content["tables"]]  # type: ignore[index]
            assert names == ["customers"]  # public.orders is denied to agents
            hidden = await mcp.call_tool("describe_table", {"table": "orders"})
            assert hidden.is_error and "no table public.orders" in hidden.content[0].text  # type: ignore[union-attr]
        assert [t["table"] for t in await catalog.list_tables(session=alice)] == ["customers", "orders"]
        # metadata calls are audited like queries: one request each, the failed one as an error
        assert finished == [("list_tables", "ok"), ("describe_table", "error")]
    finally:
        await pool.close()
