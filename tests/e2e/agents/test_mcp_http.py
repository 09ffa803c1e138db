"""MCP over streamable HTTP: the official client SDK against uvicorn on a free port."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import shlex
import shutil
from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from tests.e2e.agents.toy_pipeline import ToyPipeline, pseudonym
from tests.support.services import free_port

from veil.config import ListenSettings, Settings, UpstreamSettings
from veil.frontends.http import HttpListener, create_app, curl_example, serve_http, start_http
from veil.frontends.mcp.agent import AgentService
from veil.identity import IdentityProvider
from veil.upstream.pool import UpstreamPool


@pytest.fixture
async def listener(seeded_dsn: str, provider: IdentityProvider
                   ) -> AsyncIterator[tuple[HttpListener, ToyPipeline]]:
    pool = UpstreamPool(seeded_dsn, max_size=2)
    pipeline = ToyPipeline(require_reason=True)
    app = create_app(AgentService(pipeline, pool), provider)
    running = await serve_http(app, "127.0.0.1", 0)
    yield running, pipeline
    await running.stop()
    await pool.close()


def client_for(running: HttpListener, authorization: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": authorization}, timeout=20)
    return Client(streamable_http_client(f"http://127.0.0.1:{running.port}/mcp", http_client=http))


async def test_agent_session_over_http(listener: tuple[HttpListener, ToyPipeline], agent_token: str) -> None:
    running, pipeline = listener
    async with client_for(running, f"Bearer {agent_token}") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"list_tables", "describe_table", "query", "explain"}
        assert "masked" in (tools["query"].description or "").lower()
        assert "joinable" in (tools["query"].description or "").lower()

        tables = await client.call_tool("list_tables", {})
        assert not tables.is_error
        by_name = {t["table"]: t for t in tables.structured_content["tables"]}  # type: ignore[index]
        assert by_name["customers"]["sensitive_columns"]["email"] == ["email"]

        masked = await client.call_tool("query", {"sql": "SELECT email FROM customers WHERE id = 1",
                                                  "reason": "INC-1"})
        assert not masked.is_error
        assert masked.structured_content["rows"] == [[pseudonym(b"ann@example.org").decode()]]  # type: ignore[index]

        write = await client.call_tool("query", {"sql": "DELETE FROM customers", "reason": "cleanup"})
        assert write.is_error
        text = write.content[0].text  # type: ignore[union-attr]
        assert "ERROR:  veil: refused by policy toy-agents: DELETE is not a read" in text
        assert text.endswith("(SQLSTATE 42501)")

        unreasoned = await client.call_tool("query", {"sql": "SELECT 1"})
        assert unreasoned.is_error and "a reason is required" in unreasoned.content[0].text  # type: ignore[union-attr]

    events = [(r.session.frontend, r.session.identity.kind, r.session.identity.subject, r.tool,
               r.outcome.status) for r in pipeline.finished]
    who = ("mcp", "agent", "claude", "query")
    assert events == [("mcp", "agent", "claude", "list_tables", "ok"),
                      (*who, "ok"), (*who, "refused"), (*who, "refused")]
    assert pipeline.finished[1].session.identity.actor == ("claude-desktop",)
    opened = [e for e, _ in pipeline.sessions]
    assert opened.count("open") == opened.count("close") >= 3


async def test_every_mcp_request_needs_credentials(listener: tuple[HttpListener, ToyPipeline]) -> None:
    running, pipeline = listener
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    bad = "Basic " + base64.b64encode(b"robot:wrong").decode()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as http:
        for headers in ({}, {"Authorization": bad}):
            r = await http.post("/mcp", json=init, headers={
                "Accept": "application/json, text/event-stream", **headers})
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert json.loads(r.content)["error"]["message"] in ("missing credentials", "invalid credentials")
        assert (await http.get("/healthz")).status_code == 200
    assert pipeline.finished == []


async def test_static_identity_over_basic(listener: tuple[HttpListener, ToyPipeline]) -> None:
    running, pipeline = listener
    auth = "Basic " + base64.b64encode(b"robot:s3cret-robot").decode()
    async with client_for(running, auth) as client:
        out = await client.call_tool("describe_table", {"table": "public.customers"})
        assert not out.is_error
        assert [c["name"] for c in out.structured_content["columns"]] == ["id", "email", "name", "signup"]  # type: ignore[index]
        missing = await client.call_tool("describe_table", {"table": "nope"})
        assert missing.is_error and "no table public.nope" in missing.content[0].text  # type: ignore[union-attr]
        explained = await client.call_tool("explain", {"sql": "DELETE FROM customers"})
        assert explained.structured_content["allowed"] is False  # type: ignore[index]
    # catalog calls are audited too: the failed lookup as an error
    assert [(r.tool, r.outcome.status) for r in pipeline.finished] == [
        ("describe_table", "ok"), ("describe_table", "error"), ("explain", "refused")]


async def test_start_http_from_settings(seeded_dsn: str, identity_settings: Settings) -> None:
    """The composition helper: Settings + pipeline -> a listening HTTP side; stop() closes the pool."""
    port = free_port()
    settings = dataclasses.replace(
        identity_settings, listen=ListenSettings(postgres=None, http=("127.0.0.1", port)),
        upstream=UpstreamSettings(postgres=seeded_dsn), columns={"public.customers.name": "person_name"})
    pipeline = ToyPipeline()
    running = await start_http(settings, pipeline)
    try:
        assert running.port == port
        auth = {"Authorization": "Basic " + base64.b64encode(b"alice:s3cret-alice").decode()}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=auth) as http:
            assert (await http.get("/readyz")).json()["ready"] is True
            assert (await http.get("/.well-known/jwks.json")).json()["keys"]
            r = await http.post("/v1/query", json={"sql": "SELECT count(*) AS n FROM orders"})
            assert r.json()["rows"] == [[50]]
        line = curl_example(f"http://127.0.0.1:{port}", auth["Authorization"], "SELECT 'it''s' AS q")
        assert shlex.split(line)[-1] == json.dumps({"sql": "SELECT 'it''s' AS q", "reason": "trying veil"})
        if shutil.which("curl"):  # the line really works in a shell
            proc = await asyncio.create_subprocess_shell(line, stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            assert json.loads(out)["rows"] == [["it's"]]
        async with client_for(running, auth["Authorization"]) as client:
            described = await client.call_tool("describe_table", {"table": "customers"})
            names = {c["name"]: c["sensitive_types"] for c in described.structured_content["columns"]}  # type: ignore[index]
            assert names["name"] == ["person_name"] and names["id"] == []
    finally:
        await running.stop()
    assert pipeline.finished[0].session.frontend == "http"
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/healthz")
