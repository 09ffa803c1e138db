"""MCP on stdio: the official client SDK launches the server as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from tests.e2e.agents.toy_pipeline import pseudonym

from veil.config import Settings

ROOT = Path(__file__).resolve().parents[3]


def write_config(tmp_path: Path, settings: Settings, dsn: str) -> Path:
    dev = settings.identity.dev_issuer
    assert dev is not None
    path = tmp_path / "veil.yaml"
    path.write_text(f"""
upstream: {{postgres: "{dsn}"}}
identity:
  users:
    - {{name: robot, password: s3cret-robot, groups: [bots], kind: agent}}
  dev_issuer: {{key: "{dev.key}"}}
columns:
  public.customers.name: none
""")
    return path


def server_params(config: Path, token: str, audit: Path) -> StdioServerParameters:
    env = {**os.environ, "VEIL_CONFIG": str(config), "VEIL_TOKEN": token, "VEIL_TOY_AUDIT": str(audit),
           "PYTHONPATH": str(ROOT)}
    return StdioServerParameters(command=sys.executable, args=[str(ROOT / "tests/e2e/agents/toy_stdio.py")],
                                 env=env, cwd=str(ROOT))


@pytest.mark.parametrize("use_jwt", [True, False])
async def test_stdio_session(tmp_path: Path, seeded_dsn: str, identity_settings: Settings, agent_token: str,
                             use_jwt: bool) -> None:
    audit = tmp_path / "audit.jsonl"
    token = agent_token if use_jwt else "robot:s3cret-robot"
    params = server_params(write_config(tmp_path, identity_settings, seeded_dsn), token, audit)
    async with Client(params) as client:
        assert {t.name for t in (await client.list_tools()).tools} == {
            "list_tables", "describe_table", "query", "explain"}
        tables = await client.call_tool("list_tables", {"schema": "public"})
        sensitive = {t["table"]: t["sensitive_columns"] for t in tables.structured_content["tables"]}  # type: ignore[index]
        assert sensitive["customers"] == {"email": ["email"]}  # the `none` tag clears the name column
        masked = await client.call_tool("query", {"sql": "SELECT email FROM customers ORDER BY id",
                                                  "reason": "INC-9", "max_rows": 2})
        assert masked.structured_content["rows"] == [  # type: ignore[index]
            [pseudonym(b"ann@example.org").decode()], [pseudonym(b"bob@example.net").decode()]]
        assert masked.structured_content["truncated"] is True  # type: ignore[index]
        write = await client.call_tool("query", {"sql": "INSERT INTO customers (id) VALUES (9)",
                                                 "reason": "x"})
        assert write.is_error and "refused by policy toy-agents" in write.content[0].text  # type: ignore[union-attr]
        unreasoned = await client.call_tool("query", {"sql": "SELECT 1"})
        assert unreasoned.is_error and "a reason is required" in unreasoned.content[0].text  # type: ignore[union-attr]
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    subject = "claude" if use_jwt else "robot"
    assert [(e["subject"], e["kind"], e["frontend"], e["tool"], e["status"]) for e in events] == [
        (subject, "agent", "mcp", "list_tables", "ok"),
        (subject, "agent", "mcp", "query", "ok"), (subject, "agent", "mcp", "query", "refused"),
        (subject, "agent", "mcp", "query", "refused")]
    assert events[1]["masked"] == 2 and events[1]["reason"] == "INC-9"


def test_bad_token_exits_with_a_message(tmp_path: Path, identity_settings: Settings) -> None:
    params = server_params(write_config(tmp_path, identity_settings, "postgresql://x@127.0.0.1:1/x"),
                           "robot:wrong", tmp_path / "a.jsonl")
    proc = subprocess.run([params.command, *params.args], env=params.env, cwd=params.cwd, input=b"",
                          capture_output=True, timeout=30)
    assert proc.returncode == 1
    assert b"password authentication failed" in proc.stderr
    assert proc.stdout == b""  # stdout belongs to the protocol
