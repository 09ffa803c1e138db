"""Serving the HTTP app with uvicorn inside veil's own event loop.

``veil serve`` runs the wire proxy and the HTTP listener in one process and one
loop, so uvicorn must neither own the loop nor install signal handlers (the
composition root handles SIGTERM/SIGHUP for both).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp

from veil.errors import VeilError


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its host process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class HttpListener:
    """A running HTTP listener: its bound port and how to stop it."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # e.g. close the pool

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, give open requests ``timeout`` seconds, then run ``on_stop``."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except TimeoutError:
            self.server.force_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        for close in self.on_stop:
            await close()


async def serve_http(app: ASGIApp, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                     startup_timeout: float = 10.0) -> HttpListener:
    """Start ``app`` on ``host:port`` (0 = any free port) in the running loop; return once listening."""
    factory = None
    if ssl_context is not None:
        context = ssl_context  # veil's TLS context (same certificate and minimum version as the wire side)
        factory = lambda config, default: context  # noqa: E731
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            access_log=False, server_header=False, loop="none",
                            ssl_context_factory=factory)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(), name="veil-http")
    deadline = asyncio.get_running_loop().time() + startup_timeout
    while not server.started:
        if task.done():
            raise VeilError(f"the HTTP listener on {host}:{port} failed to start")
        if asyncio.get_running_loop().time() > deadline:
            server.should_exit = True
            raise VeilError(f"the HTTP listener on {host}:{port} did not start in time")
        await asyncio.sleep(0.01)
    bound = port
    for srv in server.servers:
        for sock in srv.sockets:
            bound = int(sock.getsockname()[1])
            break
    return HttpListener(server=server, task=task, host=host, port=bound)
