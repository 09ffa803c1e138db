"""One path: the wire, the HTTP API, MCP over HTTP and ``veil mcp`` give the same masked values.

A real ``veil serve`` (wire + HTTP listener) and a real ``veil mcp`` subprocess on the
same config and keys; the audit trail is read back with ``veil audit export``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import httpx2
import psycopg
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from tests.support.proxy import basic_config, running_veil

ROOT = Path(__file__).resolve().parents[3]
SQL = "SELECT id, email, name FROM customers ORDER BY id"
AGENT = ("robot", "pw-robot-1", ["bots"], "agent")


def agents_config(dsn: str) -> dict[str, Any]:
    return basic_config(dsn, [AGENT], listen={"postgres": "127.0.0.1:0", "http": "127.0.0.1:0"}, policies=[{
        "name": "ai-agents", "when": {"kind": "agent"}, "access": "read-only", "require_reason": True,
        "mask": {"default": "pseudonymize"},
    }])


def as_text(rows: list[list[Any]]) -> list[list[str | None]]:
    return [[None if v is None else str(v) for v in row] for row in rows]


async def test_agents_see_what_psql_sees_and_are_audited(seeded_dsn: str, tmp_path: Path) -> None:
    name, password, _, _ = AGENT
    basic = "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()
    with running_veil(agents_config(seeded_dsn), tmp_path=tmp_path) as veil:
        assert veil.http_port is not None
        with psycopg.connect(veil.dsn(name, password, options="-c veil.reason=INC-1")) as conn:
            wire = as_text([list(r) for r in conn.execute(SQL).fetchall()])
        assert wire[0][1] != "ann@example.org"  # masked on the wire
        base = f"http://127.0.0.1:{veil.http_port}"
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": basic}) as http:
            r = await http.post("/v1/query", json={"sql": SQL, "reason": "INC-1"})
            assert r.status_code == 200, r.text
            assert as_text(r.json()["rows"]) == wire
            refused = await http.post("/v1/query", json={"sql": SQL})
            assert refused.status_code == 403 and "reason" in refused.json()["error"]["message"]
            write = await http.post("/v1/query", json={"sql": "DELETE FROM customers", "reason": "x"})
            assert write.status_code == 403
            ready = await http.get("/readyz")
            assert ready.json() == {"ready": True, "checks": {"upstream": True, "audit": True}}
            metrics = (await http.get("/metrics")).text
            assert 'veil_statements_total{decision="allowed",frontend="http"}' in metrics
        mcp_http = httpx2.AsyncClient(headers={"Authorization": basic}, timeout=20)
        async with Client(streamable_http_client(f"{base}/mcp", http_client=mcp_http)) as client:
            result = await client.call_tool("query", {"sql": SQL, "reason": "INC-1"})
            assert not result.is_error, result.content
            assert as_text(result.structured_content["rows"]) == wire  # type: ignore[index]
        # veil mcp beside the running server, on the same store and keys (its own audit log).
        config_path = veil.config_path
        env = {**os.environ, "VEIL_TOKEN": f"{name}:{password}",
               "VEIL_TEST_PW_" + password.encode().hex(): password}
        params = StdioServerParameters(command=sys.executable, env=env, cwd=str(tmp_path),
                                       args=["-m", "veil", "mcp", "-c", str(config_path)])
        started = time.monotonic()
        async with Client(params) as client:
            result = await client.call_tool("query", {"sql": SQL, "reason": "INC-1"})
            assert time.monotonic() - started < 12  # no wait for the server's audit lease
            assert not result.is_error, result.content
            assert as_text(result.structured_content["rows"]) == wire  # type: ignore[index]
            unreasoned = await client.call_tool("query", {"sql": SQL})
            assert unreasoned.is_error
    export = subprocess.run([sys.executable, "-m", "veil", "audit", "export", "-c", str(config_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert export.returncode == 0, export.stderr
    events = [json.loads(line) for line in export.stdout.splitlines() if line.strip()]
    requests = [e for e in events if e.get("type") == "request"]
    seen = {(e["frontend"], e["tool"], e["outcome"]["status"]) for e in requests}
    assert {("http", "/v1/query", "ok"), ("http", "/v1/query", "refused"), ("mcp", "query", "ok"),
            ("mcp", "query", "refused")} <= seen
    agent_requests = [e for e in requests if e["frontend"] in ("http", "mcp")]
    assert agent_requests and all(e["identity"]["kind"] == "agent" for e in agent_requests)
    masked = [e for e in agent_requests if e["outcome"]["status"] == "ok"]
    assert all(any(m.get("column") == "email" for m in e["masking"]) for e in masked)
    assert "ann@example.org" not in export.stdout
