"""MCP front end: the agent tools (list_tables, describe_table, query, explain) over the one path.

``AgentService`` is the shared execution path (also used by the HTTP API);
``build_mcp_server`` makes the SDK server; ``run_stdio`` serves ``veil mcp``;
``mcp_client_config`` is the snippet ``veil demo`` prints for desktop MCP clients.
"""

from veil.frontends.mcp.agent import AgentService, Answer, Refused, refusal_message
from veil.frontends.mcp.catalog import SchemaCatalog
from veil.frontends.mcp.server import FixedSession, build_mcp_server
from veil.frontends.mcp.stdio import identity_from_token, mcp_client_config, run_stdio, serve_stdio

__all__ = [
    "AgentService", "Answer", "FixedSession", "Refused", "SchemaCatalog", "build_mcp_server",
    "identity_from_token", "mcp_client_config", "refusal_message", "run_stdio", "serve_stdio",
]
