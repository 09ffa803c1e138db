"""``veil mcp``: the MCP server on stdio for one agent, and its client config snippet.

On stdio there is one caller for the life of the process, so its credentials are
checked once at start (``VEIL_TOKEN``: a JWT, or ``user:password`` of a static
identity) and every tool call runs in that one veil Session.  stdout belongs to
the protocol: nothing else may print there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from veil.config import Settings
from veil.errors import AuthError
from veil.frontends.mcp.agent import AgentService
from veil.frontends.mcp.catalog import SchemaCatalog
from veil.frontends.mcp.credentials import Verifier, token_username
from veil.frontends.mcp.server import FixedSession, build_mcp_server
from veil.identity import IdentityProvider
from veil.pipeline.hooks import Pipeline
from veil.pipeline.metrics import Metrics
from veil.pipeline.service import VeilPipeline
from veil.values import Identity

TOKEN_ENV = "VEIL_TOKEN"
LOCAL = "local"  # the client address of a stdio caller: the identity provider treats it as loopback


def identity_from_token(token: str, verifier: Verifier) -> Identity:
    """Verify ``VEIL_TOKEN``: a JWT (checked like a psql token login) or ``user:password``."""
    token = token.strip()
    if not token:
        raise AuthError(f"{TOKEN_ENV} is empty: set it to a JWT or user:password")
    if token.count(".") == 2 and ":" not in token:
        return verifier.verify_token(token_username(token), token, tls=False, client_addr=LOCAL)
    user, sep, password = token.partition(":")
    if not sep or not user:
        raise AuthError(f"{TOKEN_ENV} is neither a JWT nor user:password")
    return verifier.verify_password(user, password, client_addr=LOCAL)


async def run_stdio(agent: AgentService, catalog: SchemaCatalog, identity: Identity, *,
                    reason: str | None = None) -> None:
    """Serve MCP on stdin/stdout until the client closes the stream.

    ``reason`` is the session's reason (``VEIL_REASON``), like ``veil.reason`` at a psql
    startup: a call without its own reason carries it.
    """
    session = agent.open_session(identity, "mcp", client_addr=LOCAL, application_name="veil mcp",
                                 reason=reason)
    try:
        await build_mcp_server(agent, catalog, FixedSession(session)).run_stdio_async()
    finally:
        try:
            agent.close_session(session)
        finally:
            await agent.pool.close()


async def serve_stdio(settings: Settings, pipeline: Pipeline, token: str, *,
                      metrics: Metrics | None = None, reason: str | None = None) -> None:
    """``veil mcp``: verify ``token`` with the configured identities, then serve until stdin closes."""
    identity = identity_from_token(token, IdentityProvider(settings.identity))
    agent = AgentService.from_settings(settings, pipeline, metrics=metrics, max_connections=2)
    await run_stdio(agent, catalog_for(settings, agent), identity, reason=reason)


def catalog_for(settings: Settings, agent: AgentService) -> SchemaCatalog:
    """The schema catalog with the config's column tags, filtered by the running policies."""
    pipeline = agent.pipeline
    policies = (lambda: pipeline.policies) if isinstance(pipeline, VeilPipeline) else None
    return SchemaCatalog(agent.pool, settings.columns, policies=policies)


def mcp_client_config(config_path: str | os.PathLike[str], token: str, *, name: str = "veil"
                      ) -> dict[str, Any]:
    """The ``mcpServers`` entry a desktop MCP client needs to start ``veil mcp`` for this config."""
    command = shutil.which("veil") or str(Path(sys.executable).with_name("veil"))
    return {"mcpServers": {name: {
        "command": command,
        "args": ["mcp", "-c", str(Path(config_path).resolve())],
        "env": {TOKEN_ENV: token},
    }}}
