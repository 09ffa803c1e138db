"""The agent front ends from Settings: what ``veil serve`` (HTTP beside the wire) and ``veil mcp`` need.

The composition root passes the one pipeline it built for the wire front end;
this module adds only what is particular to the agent side - the pooled upstream
driver, the schema catalog with the config's column tags, the identity provider
and the dev issuer's key set - so MCP, HTTP and psql share policy, masking and
audit by construction.
"""

from __future__ import annotations

import json
import shlex
import ssl
from collections.abc import Mapping

from starlette.applications import Starlette

from veil.config import Settings
from veil.errors import ConfigError
from veil.frontends.http.app import ReadyCheck, create_app
from veil.frontends.http.server import HttpListener, serve_http
from veil.frontends.mcp.agent import AgentService
from veil.frontends.mcp.stdio import catalog_for
from veil.frontends.pg.tls import ServerTLS
from veil.identity import IdentityProvider, dev_issuer_jwks
from veil.pipeline.hooks import Pipeline
from veil.pipeline.metrics import Metrics
from veil.pipeline.service import VeilPipeline


def http_app(settings: Settings, agent: AgentService, *, identity: IdentityProvider | None = None,
             ready_checks: Mapping[str, ReadyCheck] | None = None) -> Starlette:
    """The Starlette app for ``listen.http``: /v1/query, /mcp, health, metrics, JWKS."""
    host = settings.listen.http[0] if settings.listen.http else "127.0.0.1"
    return create_app(agent, identity or IdentityProvider(settings.identity),
                      catalog=catalog_for(settings, agent),
                      jwks=lambda: dev_issuer_jwks(settings), ready_checks=ready_checks, host=host)


async def start_http(settings: Settings, pipeline: Pipeline, *, metrics: Metrics | None = None,
                     identity: IdentityProvider | None = None, ssl_context: ssl.SSLContext | None = None,
                     ready_checks: Mapping[str, ReadyCheck] | None = None) -> HttpListener:
    """Start the HTTP listener of ``settings`` in the running loop; ``stop()`` also closes the pool.

    ``/readyz`` checks the upstream and, for the composed pipeline, that its audit store
    takes events (statements are refused while it does not).
    With ``tls:`` configured the listener speaks HTTPS only, on the wire listener's
    certificate (bearer tokens from off-loopback clients are accepted only over TLS).
    """
    if settings.listen.http is None:
        raise ConfigError("no HTTP listener configured", key="listen.http")
    if ssl_context is None and settings.tls is not None:
        ssl_context = ServerTLS.load(settings.tls.cert, settings.tls.key,
                                     min_version=settings.tls.min_version).context
    agent = AgentService.from_settings(settings, pipeline, metrics=metrics)
    checks = dict(ready_checks or {})
    if isinstance(pipeline, VeilPipeline) and "audit" not in checks:
        audit = pipeline.audit

        async def audit_ready() -> bool:
            return audit.available

        checks["audit"] = audit_ready
    app = http_app(settings, agent, identity=identity, ready_checks=checks)
    host, port = settings.listen.http
    listener = await serve_http(app, host, port, ssl_context=ssl_context)
    listener.on_stop.append(agent.pool.close)
    return listener


def curl_example(base_url: str, authorization: str, sql: str = "SELECT * FROM customers LIMIT 5",
                 reason: str = "trying veil") -> str:
    """A ready-to-paste shell line calling ``POST /v1/query`` (what ``veil demo`` prints)."""
    body = json.dumps({"sql": sql, "reason": reason})
    return (f"curl -s {shlex.quote(base_url.rstrip('/') + '/v1/query')} "
            f"-H {shlex.quote('Authorization: ' + authorization)} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")
