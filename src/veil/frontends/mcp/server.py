"""The MCP server: four tools over the one path, built with the official ``mcp`` SDK.

The tools are the same whether the server runs on stdio (``veil mcp``) or under
``/mcp`` of the HTTP listener; only where the caller's session comes from differs
(``SessionSource``).  Tool descriptions tell the model what it is looking at -
masked values, stable pseudonyms - because a model that knows a value is a keyed
pseudonym joins on it instead of "correcting" it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Protocol

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from veil.errors import TokenExpiredError, VeilError
from veil.frontends.mcp.agent import AgentService
from veil.frontends.mcp.catalog import SchemaCatalog
from veil.pipeline.hooks import Session
from veil.upstream.pool import QueryFailed

INSTRUCTIONS = """\
veil gives you governed, read-mostly access to a PostgreSQL database.
Every call is checked against a policy, and every call is audited with your identity and reason.
Sensitive values (emails, names, card numbers, secrets, health data, ...) come back MASKED.
Masked values keep their format and type (a masked email is still an email, a masked date a date).
Pseudonyms are deterministic: the same real value always gives the same pseudonym, so you can
join, group and count on masked columns; do not try to "fix" or un-mask them.
Start with list_tables / describe_table, give a short business reason with each query, and use
explain when you are unsure whether a statement is allowed."""

QUERY_DESCRIPTION = """\
Run one SQL statement (PostgreSQL dialect) through veil and return its rows as JSON.
Policy applies exactly as for a human psql user: read-only identities cannot write, some tables
and functions are off limits, a row cap applies (max_rows, and the policy's own cap).
Values are masked per column according to your policy; `masking` in the answer says which
columns were masked, as which data type and how. Pseudonyms are stable and joinable: the same
input value always maps to the same masked value across queries and tables.
A refused statement returns an error explaining which policy refused it and why."""

REASON_HELP = ("Why you need this data (a ticket id or a one-line purpose). Recorded in the audit "
               "trail; some policies refuse queries without one.")


class SessionSource(Protocol):
    """Where a tool call's Session comes from: the process (stdio) or the HTTP request."""

    def session(self, ctx: Context) -> contextlib.AbstractAsyncContextManager[Session]: ...


class FixedSession:
    """stdio: one identity for the process, one Session for its lifetime.

    The token was checked once, at start; once it expires every call is refused (as
    the wire front end ends a session whose token expired) until the agent's host
    restarts ``veil mcp`` with a fresh ``VEIL_TOKEN``.
    """

    def __init__(self, session: Session, *, clock: Callable[[], float] = time.time) -> None:
        self._session = session
        self._clock = clock

    @contextlib.asynccontextmanager
    async def session(self, ctx: Context) -> AsyncIterator[Session]:
        expires = self._session.identity.expires_at
        if expires is not None and self._clock() >= expires:
            raise ToolError(tool_error_text(TokenExpiredError(
                "veil: the token in VEIL_TOKEN expired; restart veil mcp with a fresh one")))
        yield self._session


def build_mcp_server(agent: AgentService, catalog: SchemaCatalog, sessions: SessionSource) -> MCPServer:
    """An MCPServer whose tools run through ``agent`` (authorize, execute, mask, audit)."""
    server: MCPServer = MCPServer("veil", instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(description=(
        "List the tables and views you can read, with row estimates and, per table, the columns "
        "veil treats as sensitive (their values come back masked)."), annotations=read_only)
    async def list_tables(ctx: Context, schema: Annotated[
            str | None, Field(description="Only this schema (default: all)")] = None) -> dict[str, Any]:
        async with sessions.session(ctx) as session:
            with agent.metadata_call(session, "list_tables", schema) as request:
                tables = await _guard(catalog.list_tables(schema, session=session))
                request.outcome.rows = len(tables)
                return {"tables": tables}

    @server.tool(description=(
        "Describe one table: columns, types, nullability, and the sensitive data types veil expects "
        "in each column (those values are masked; pseudonyms are stable and joinable)."),
        annotations=read_only)
    async def describe_table(ctx: Context, table: Annotated[
            str, Field(description="schema.table, or a table in public")]) -> dict[str, Any]:
        async with sessions.session(ctx) as session:
            with agent.metadata_call(session, "describe_table", table):
                return await _guard(catalog.describe_table(table, session=session))

    @server.tool(description=QUERY_DESCRIPTION)
    async def query(ctx: Context,
                    sql: Annotated[str, Field(description="One SQL statement")],
                    reason: Annotated[str | None, Field(description=REASON_HELP)] = None,
                    max_rows: Annotated[int | None, Field(description="Return at most this many rows",
                                                          ge=0)] = None) -> dict[str, Any]:
        async with sessions.session(ctx) as session:
            answer = await _guard(agent.query(session, sql, reason=reason, max_rows=max_rows,
                                              tool="query"))
            return answer.as_json()

    @server.tool(description=(
        "Explain what veil would do with a statement without running it: allowed or not and why, "
        "which policy matched, tables and columns read, masking rules and limits that apply."),
        annotations=read_only)
    async def explain(ctx: Context, sql: Annotated[str, Field(description="One SQL statement")],
                      reason: Annotated[str | None, Field(description=REASON_HELP)] = None
                      ) -> dict[str, Any]:
        async with sessions.session(ctx) as session:
            try:
                return agent.explain(session, sql, reason=reason)
            except VeilError as exc:
                raise ToolError(tool_error_text(exc)) from None

    return server


async def _guard(call: Any) -> Any:
    """Await ``call``; veil's own errors become MCP tool errors with the text a psql user sees."""
    try:
        return await call
    except VeilError as exc:
        raise ToolError(tool_error_text(exc)) from None


def tool_error_text(exc: VeilError) -> str:
    """psql's rendering of the error (``ERROR:  message``, DETAIL, HINT) plus its SQLSTATE."""
    sqlstate = getattr(exc, "sqlstate", None)
    lines = [f"ERROR:  {exc}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")]
    if isinstance(exc, QueryFailed):
        lines += [f"{label}:  {text}" for label, text in (("DETAIL", exc.detail), ("HINT", exc.hint)) if text]
    return "\n".join(lines)
