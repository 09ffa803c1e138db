"""The HTTP listener: JSON query API, MCP over streamable HTTP, health, metrics, JWKS.

One Starlette app from one factory.  ``/v1/query`` and ``/mcp`` run through the
same ``AgentService`` (authorize -> execute -> mask -> audit) as each other, and
through the same pipeline as the wire front end.  Everything but the health
endpoints and the dev issuer's public key set needs credentials.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from veil.errors import AuthError, VeilError
from veil.frontends.http.auth import HttpAuthenticator, Verifier
from veil.frontends.http.mcp_mount import (
    IDENTITY_KEY,
    RequestSessions,
    RequireIdentity,
    client_addr,
    is_tls,
    mcp_endpoint,
)
from veil.frontends.mcp.agent import AgentService, Refused
from veil.frontends.mcp.catalog import SchemaCatalog
from veil.frontends.mcp.server import build_mcp_server
from veil.upstream.pool import QueryFailed

ReadyCheck = Callable[[], Awaitable[bool]]
MAX_BODY = 1 << 20  # a query request is SQL plus a few parameters


class ApiError(VeilError):
    """A request the API cannot run as sent (HTTP 400)."""


def create_app(agent: AgentService, verifier: Verifier, *, catalog: SchemaCatalog | None = None,
               jwks: Callable[[], Mapping[str, Any]] | None = None,
               ready_checks: Mapping[str, ReadyCheck] | None = None, mcp: bool = True,
               host: str = "127.0.0.1") -> Starlette:
    """The app for ``listen.http``.

    ``ready_checks`` name the dependencies ``/readyz`` waits for (the upstream is
    always checked; the composition root adds the audit store).  ``jwks`` serves the
    dev issuer's public keys.  ``mcp=False`` leaves ``/mcp`` out.
    """
    auth = HttpAuthenticator(verifier)
    checks: dict[str, ReadyCheck] = {"upstream": agent.pool.ping, **(ready_checks or {})}
    mcp_server = None
    routes: list[Route] = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz(checks), methods=["GET"]),
        Route("/.well-known/jwks.json", _jwks(jwks), methods=["GET"]),
        Route("/metrics", _guard(_metrics(agent), auth, agent), methods=["GET"]),
        Route("/v1/query", _guard(_query(agent), auth, agent), methods=["POST"]),
    ]
    if mcp:
        server = build_mcp_server(agent, catalog or SchemaCatalog(agent.pool), RequestSessions(agent))
        endpoint, mcp_server = mcp_endpoint(server, auth, agent, host=host)
        routes.append(Route("/mcp", endpoint, methods=["GET", "POST", "DELETE"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            yield

    return Starlette(routes=routes, lifespan=lifespan)


def _guard(endpoint: Callable[[HttpRequest], Awaitable[Response]], auth: HttpAuthenticator,
           agent: AgentService) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(HttpRequest(scope, receive))
        await response(scope, receive, send)

    return RequireIdentity(app, auth, agent, "http")


async def _healthz(request: HttpRequest) -> Response:
    return JSONResponse({"status": "ok"})


def _readyz(checks: Mapping[str, ReadyCheck]) -> Callable[[HttpRequest], Awaitable[Response]]:
    async def readyz(request: HttpRequest) -> Response:
        results = {}
        for name, check in checks.items():
            try:
                results[name] = bool(await check())
            except Exception:  # a readiness probe answers, it does not crash
                results[name] = False
        ready = all(results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    return readyz


def _jwks(jwks: Callable[[], Mapping[str, Any]] | None) -> Callable[[HttpRequest], Awaitable[Response]]:
    async def serve(request: HttpRequest) -> Response:
        # Public keys only: verifiers fetch this without credentials, as from any IdP.
        return JSONResponse(dict(jwks()) if jwks is not None else {"keys": []})

    return serve


def _metrics(agent: AgentService) -> Callable[[HttpRequest], Awaitable[Response]]:
    async def metrics(request: HttpRequest) -> Response:
        return Response(agent.metrics.render(), media_type=agent.metrics.content_type)

    return metrics


def _query(agent: AgentService) -> Callable[[HttpRequest], Awaitable[Response]]:
    async def query(request: HttpRequest) -> Response:
        try:
            body = await _json_body(request)
            sql, params, reason, max_rows = _query_args(body)
        except ApiError as exc:
            return _error(400, str(exc), "22023")
        identity = request.scope[IDENTITY_KEY]
        session = agent.open_session(identity, "http", client_addr=client_addr(request.scope),
                                     tls=is_tls(request.scope),
                                     application_name=request.headers.get("user-agent", "")[:64])
        try:
            answer = await agent.query(session, sql, reason=reason, max_rows=max_rows, params=params,
                                       tool="/v1/query")
        except Refused as exc:
            return _error(403, str(exc), exc.sqlstate, policy=exc.policy)
        except QueryFailed as exc:
            extra = {k: v for k, v in (("detail", exc.detail), ("hint", exc.hint)) if v}
            return _error(400, str(exc), exc.sqlstate, **extra)
        except AuthError as exc:
            return _error(401, str(exc), exc.sqlstate)
        except VeilError as exc:
            return _error(503, f"veil: request failed: {exc}", getattr(exc, "sqlstate", "XX000"))
        finally:
            agent.close_session(session)
        return JSONResponse(answer.as_json())

    return query


async def _json_body(request: HttpRequest) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ApiError("request body too large")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError("the body must be a JSON object")
    return body


def _query_args(body: Mapping[str, Any]) -> tuple[str, list[Any], str | None, int | None]:
    sql, params, reason, max_rows = body.get("sql"), body.get("params", []), body.get("reason"), \
        body.get("max_rows")
    if not isinstance(sql, str) or not sql.strip():
        raise ApiError("sql must be a non-empty string")
    if not isinstance(params, list) or not all(
            p is None or isinstance(p, str | int | float | bool) for p in params):
        raise ApiError("params must be a list of strings, numbers, booleans or nulls")
    if reason is not None and not isinstance(reason, str):
        raise ApiError("reason must be a string")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0):
        raise ApiError("max_rows must be a non-negative integer")
    return sql, params, reason, max_rows


def _error(status: int, message: str, sqlstate: str | None, **extra: Any) -> Response:
    return JSONResponse({"error": {"message": message, "sqlstate": sqlstate, **extra}}, status_code=status)
