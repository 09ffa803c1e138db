"""Composition root: the only place objects are wired together.

``build_server(settings, pipeline=None)`` turns validated Settings into a ready
``PgFrontend`` (None means PassThroughPipeline); ``run(settings)`` serves it until
SIGTERM/SIGINT (graceful: running statements get ``listen.shutdown_grace`` seconds)
and reloads the config file on SIGHUP (validated first; the old config stays on error).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veil.config import Settings
from veil.errors import ConfigError
from veil.frontends.pg.server import FrontendConfig, PgFrontend
from veil.frontends.pg.tls import ServerTLS
from veil.identity import IdentityProvider
from veil.identity.jwks import file_fetch
from veil.pipeline.hooks import PassThroughPipeline, Pipeline
from veil.pipeline.service import VeilPipeline
from veil.upstream.target import UpstreamTarget

log = logging.getLogger("veil")

def frontend_config(settings: Settings, pipeline: Pipeline | None = None) -> FrontendConfig:
    """The PostgreSQL front end's configuration from Settings."""
    tls = None
    if settings.tls is not None:
        tls = ServerTLS.load(settings.tls.cert, settings.tls.key, min_version=settings.tls.min_version)
    identity = settings.identity
    return FrontendConfig(
        upstream=UpstreamTarget.from_dsn(settings.upstream.postgres,
                                         connect_timeout=settings.upstream.connect_timeout),
        identity=IdentityProvider(identity, fetch=jwks_fetch),
        pipeline=pipeline if pipeline is not None else PassThroughPipeline(),
        tls=tls,
        tls_required=settings.tls is not None and settings.tls.require,
        token_login=identity.jwt is not None or identity.dev_issuer is not None,
        max_connections=settings.limits.max_connections,
        max_connections_per_identity=settings.limits.max_connections_per_identity,
    )


def jwks_fetch(ref: str) -> bytes:
    """JWKS bytes for ``file:`` and ``https:`` refs (identity does no network I/O itself)."""
    if ref.startswith("https://"):
        import httpx

        response = httpx.get(ref, timeout=5.0, follow_redirects=False)
        response.raise_for_status()
        return response.content
    return file_fetch(ref)


def build_server(settings: Settings, pipeline: Pipeline | None = None) -> PgFrontend:
    """A PgFrontend for ``settings``; start it with ``await server.start(host, port)``."""
    return PgFrontend(frontend_config(settings, pipeline))


def shutdown_grace(settings: Settings) -> float:
    return settings.listen.shutdown_grace


def catalog_execute(settings: Settings) -> Callable[[str], list[tuple[Any, ...]]]:
    """``execute(sql) -> rows`` on the upstream database, for the pipeline's catalog cache.

    A short-lived connection per load: loads are rare (start, DDL, an unknown table OID,
    at most once a second) and a fresh connection survives upstream restarts.
    """
    dsn = settings.upstream.postgres
    timeout = max(1, int(settings.upstream.connect_timeout))

    def execute(sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=timeout, autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())

    return execute


def build_pipeline(settings: Settings) -> VeilPipeline:
    """The real pipeline: policies, SQL analysis, masking and the audit trail of ``settings``."""
    return VeilPipeline(settings, execute=catalog_execute(settings))


async def serve(settings: Settings, *, pipeline: Pipeline | None = None,
                reload: Callable[[], Settings] | None = None,
                ready: Callable[[str, int], None] | None = None) -> None:
    """Run until SIGTERM/SIGINT; ``reload()`` returns fresh Settings on SIGHUP and when the file changes.

    Without an explicit ``pipeline`` the real one is built (policy, masking, audit); the
    HTTP/MCP listener starts beside the wire listener when ``listen.http`` is set, on the
    same pipeline.
    """
    owned = pipeline is None
    active: Pipeline = build_pipeline(settings) if pipeline is None else pipeline
    server = build_server(settings, active)
    if settings.listen.postgres is None:
        raise ConfigError("no PostgreSQL listener configured", key="listen.postgres")
    host, port = await server.start(*settings.listen.postgres)
    log.info("veil: listening on postgresql://%s:%s", host, port)
    http = None
    if settings.listen.http is not None:
        from veil.frontends.http.listener import start_http

        metrics = active.metrics if isinstance(active, VeilPipeline) else None
        http = await start_http(settings, active, metrics=metrics)
        log.info("veil: HTTP API and MCP on http://%s:%s", *settings.listen.http)
    if ready is not None:
        ready(host, port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_hup() -> None:
        if reload is None:
            return
        try:
            new = reload()
            if isinstance(active, VeilPipeline):  # first: it validates policies and raises on error
                active.reconfigure(new)
            server.reconfigure(frontend_config(new, active))
        except Exception as exc:  # keep serving with the old config
            log.error("veil: config reload failed, keeping the running config: %s", exc)
            return
        log.info("veil: config reloaded")

    watcher = loop.create_task(_watch_file(settings.source, on_hup)) if reload is not None else None

    for sig, handler in ((signal.SIGTERM, stop.set), (signal.SIGINT, stop.set), (signal.SIGHUP, on_hup)):
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread / platform
            pass
    await stop.wait()
    log.info("veil: shutting down (grace %.0fs)", shutdown_grace(settings))
    if watcher is not None:
        watcher.cancel()
    if http is not None:
        await http.stop()
    await server.shutdown(shutdown_grace(settings))
    if owned and isinstance(active, VeilPipeline):
        active.close()  # flushes the audit trail and writes the final checkpoint


async def _watch_file(path: Path | None, changed: Callable[[], None], interval: float = 2.0) -> None:
    """Call ``changed()`` when the config file's mtime or size changes (editors, config management)."""
    if path is None:
        return

    def stamp() -> tuple[float, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    last = stamp()
    while True:
        await asyncio.sleep(interval)
        now = stamp()
        if now is not None and now != last:
            last = now
            log.info("veil: %s changed, reloading", path)
            changed()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (measurably faster relaying), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(settings: Settings, *, pipeline: Pipeline | None = None,
        reload: Callable[[], Settings] | None = None) -> None:
    """Serve ``settings`` in this process until stopped (the ``veil serve`` command)."""
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(settings, pipeline=pipeline, reload=reload))
    finally:
        loop.close()
