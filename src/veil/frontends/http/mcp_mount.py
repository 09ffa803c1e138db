"""MCP over streamable HTTP at ``/mcp``, authenticated per HTTP request.

The SDK's session manager handles the transport; in front of it an ASGI guard
checks the ``Authorization`` header of *every* request (not just the first of an
MCP session) and leaves the Identity in the ASGI scope.  Each tool call then opens
a veil Session from the identity of the HTTP request that carried it, so a token
that expires mid-session stops working at its next call.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.datastructures import Headers
from starlette.requests import Request as HttpRequest
from starlette.types import ASGIApp, Receive, Scope, Send

from veil.errors import AuthError
from veil.frontends.http.auth import REALM, HttpAuthenticator, claimed_name
from veil.frontends.mcp.agent import AgentService
from veil.pipeline.hooks import Frontend, Session
from veil.values import Identity

IDENTITY_KEY = "veil.identity"


def client_addr(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def is_tls(scope: Scope) -> bool:
    return scope.get("scheme") in ("https", "wss")


class RequireIdentity:
    """ASGI guard: 401 with ``WWW-Authenticate`` unless the request authenticates."""

    def __init__(self, app: ASGIApp, auth: HttpAuthenticator, agent: AgentService,
                 frontend: Frontend) -> None:
        self._app = app
        self._auth = auth
        self._agent = agent
        self._frontend = frontend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            identity = await self._auth.authenticate(headers, client_addr=client_addr(scope),
                                                     tls=is_tls(scope))
        except AuthError as exc:
            self._agent.auth_failed(self._frontend, claimed_name(headers), client_addr=client_addr(scope),
                                    tls=is_tls(scope), why=str(exc))
            await unauthorized(str(exc), send)
            return
        scope[IDENTITY_KEY] = identity
        await self._app(scope, receive, send)


async def unauthorized(message: str, send: Send) -> None:
    body = json.dumps({"error": {"message": message, "sqlstate": "28000"}}).encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"www-authenticate", REALM.encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestSessions:
    """A veil Session per tool call, for the identity of the HTTP request that carried it."""

    def __init__(self, agent: AgentService) -> None:
        self._agent = agent

    @contextlib.asynccontextmanager
    async def session(self, ctx: Context) -> AsyncIterator[Session]:
        request = ctx.request_context.request
        if not isinstance(request, HttpRequest):  # never reached behind RequireIdentity; fail closed
            raise AuthError("no authenticated identity for this call")
        identity = request.scope.get(IDENTITY_KEY)
        if not isinstance(identity, Identity):
            raise AuthError("no authenticated identity for this call")
        session = self._agent.open_session(identity, "mcp", client_addr=client_addr(request.scope),
                                           tls=is_tls(request.scope), application_name="mcp-http")
        try:
            yield session
        finally:
            self._agent.close_session(session)


def mcp_endpoint(server: MCPServer, auth: HttpAuthenticator, agent: AgentService, *,
                 host: str = "127.0.0.1") -> tuple[ASGIApp, MCPServer]:
    """The guarded ASGI endpoint for ``/mcp``; the caller runs ``server.session_manager.run()``."""
    server.streamable_http_app(host=host)  # creates the session manager with the SDK's defaults
    return RequireIdentity(StreamableHTTPASGIApp(server.session_manager), auth, agent, "mcp"), server
