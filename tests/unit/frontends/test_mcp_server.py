"""The MCP tools in-process (the SDK's in-memory transport): schemas, descriptions, expiry, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client
from tests.e2e.agents.toy_pipeline import ToyPipeline

from veil.frontends.mcp import AgentService, FixedSession, SchemaCatalog, build_mcp_server
from veil.upstream.pool import UpstreamPool
from veil.values import Identity


@pytest.fixture
async def service(seeded_dsn: str) -> AsyncIterator[AgentService]:
    pool = UpstreamPool(seeded_dsn, max_size=1)
    yield AgentService(ToyPipeline(), pool)
    await pool.close()


async def test_tool_schemas_and_descriptions(service: AgentService) -> None:
    session = service.open_session(Identity("bot", kind="agent"), "mcp")
    server = build_mcp_server(service, SchemaCatalog(service.pool), FixedSession(session))
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        instructions = client.instructions or ""
    query = tools["query"]
    assert query.input_schema["required"] == ["sql"]
    assert set(query.input_schema["properties"]) == {"sql", "reason", "max_rows"}
    assert "audit" in query.input_schema["properties"]["reason"]["description"]
    for text in ("masked", "stable", "joinable", "refused"):
        assert text in (query.description or "").lower()
    assert tools["list_tables"].annotations is not None and tools["list_tables"].annotations.read_only_hint
    assert not (query.annotations and query.annotations.read_only_hint)  # may write, policy permitting
    assert "sensitive" in (tools["describe_table"].description or "")
    assert "MASKED" in instructions and "deterministic" in instructions


async def test_an_expired_token_refuses_every_call(service: AgentService) -> None:
    now = [1000.0]
    identity = Identity("claude", kind="agent", source="dev", expires_at=1060.0)
    session = service.open_session(identity, "mcp")
    sessions = FixedSession(session, clock=lambda: now[0])
    server = build_mcp_server(service, SchemaCatalog(service.pool), sessions)
    async with Client(server) as client:
        ok = await client.call_tool("query", {"sql": "SELECT 1 AS one"})
        assert not ok.is_error and ok.structured_content["rows"] == [[1]]  # type: ignore[index]
        now[0] = 1060.0
        for name, args in (("query", {"sql": "SELECT 1"}), ("list_tables", {})):
            expired = await client.call_tool(name, args)
            assert expired.is_error
            assert "token in VEIL_TOKEN expired" in expired.content[0].text  # type: ignore[union-attr]
    assert isinstance(service.pipeline, ToyPipeline)
    assert len(service.pipeline.finished) == 1  # the refused calls never reached the pipeline


async def test_bad_arguments_are_tool_errors(service: AgentService) -> None:
    session = service.open_session(Identity("bot", kind="agent"), "mcp")
    server = build_mcp_server(service, SchemaCatalog(service.pool), FixedSession(session))
    async with Client(server) as client:
        missing = await client.call_tool("query", {})
        negative = await client.call_tool("query", {"sql": "SELECT 1", "max_rows": -1})
    assert missing.is_error and negative.is_error
    assert isinstance(service.pipeline, ToyPipeline) and service.pipeline.finished == []
