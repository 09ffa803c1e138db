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

from veil.config import Settings
from veil.errors import ConfigError
from veil.frontends.pg.server import FrontendConfig, PgFrontend
from veil.frontends.pg.tls import ServerTLS
from veil.identity import IdentityProvider
from veil.pipeline.hooks import PassThroughPipeline, Pipeline
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
        identity=IdentityProvider(identity),
        pipeline=pipeline if pipeline is not None else PassThroughPipeline(),
        tls=tls,
        token_login=identity.jwt is not None or identity.dev_issuer is not None,
        max_connections=settings.limits.max_connections,
    )


def build_server(settings: Settings, pipeline: Pipeline | None = None) -> PgFrontend:
    """A PgFrontend for ``settings``; start it with ``await server.start(host, port)``."""
    return PgFrontend(frontend_config(settings, pipeline))


def shutdown_grace(settings: Settings) -> float:
    return settings.listen.shutdown_grace


async def serve(settings: Settings, *, pipeline: Pipeline | None = None,
                reload: Callable[[], Settings] | None = None,
                ready: Callable[[str, int], None] | None = None) -> None:
    """Run until SIGTERM/SIGINT; ``reload()`` returns fresh Settings on SIGHUP."""
    server = build_server(settings, pipeline)
    if settings.listen.postgres is None:
        raise ConfigError("no PostgreSQL listener configured", key="listen.postgres")
    host, port = await server.start(*settings.listen.postgres)
    log.info("veil: listening on postgresql://%s:%s", host, port)
    if ready is not None:
        ready(host, port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_hup() -> None:
        if reload is None:
            return
        try:
            new = reload()
            server.reconfigure(frontend_config(new, pipeline))
        except Exception as exc:  # keep serving with the old config
            log.error("veil: config reload failed, keeping the running config: %s", exc)
            return
        log.info("veil: config reloaded")

    for sig, handler in ((signal.SIGTERM, stop.set), (signal.SIGINT, stop.set), (signal.SIGHUP, on_hup)):
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread / platform
            pass
    await stop.wait()
    log.info("veil: shutting down (grace %.0fs)", shutdown_grace(settings))
    await server.shutdown(shutdown_grace(settings))


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
