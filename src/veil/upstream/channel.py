"""An asyncio Protocol that carries PostgreSQL messages, for both sides of the proxy.

Two modes.  During login a coroutine pulls whole frames with ``await read_frame()``.
Once the session is established ``start_relay(sink)`` hands every received chunk
straight to ``sink`` (the relay's hot path) with no framing here and no queue hop;
bytes already buffered are handed over first, so nothing is lost at the switch.

Back-pressure: when this side's transport write buffer is over its high-water mark,
asyncio calls ``pause_writing``; we stop reading from ``peer`` until ``resume_writing``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import cast

from veil.errors import RemoteProtocolError
from veil.wire.pg.framing import DEFAULT_MAX_MESSAGE_SIZE, Framer


class ChannelClosed(ConnectionError):
    """The peer closed the connection (or it was lost) while we waited for a message."""


class Sink(ABC):
    """What a relaying channel delivers to (implemented by the relay)."""

    @abstractmethod
    def data(self, data: bytes) -> None:
        """Bytes arrived from the peer."""

    @abstractmethod
    def closed(self, exc: Exception | None) -> None:
        """The connection ended (``exc`` None for a clean close)."""


class MessageChannel(asyncio.Protocol):
    """One TCP (or TLS) connection carrying PostgreSQL messages; see the module docstring."""

    def __init__(self, *, startup: bool = False, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.framer = Framer(max_message_size=max_message_size, startup=startup)
        self.transport: asyncio.Transport | None = None
        self.peer: MessageChannel | None = None
        self.sink: Sink | None = None
        self.on_lost: Callable[[Exception | None], None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False
        self._lost: Exception | None = None
        self._paused_peer = False

    # ---------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        if sink is not None:
            sink.data(data)
            return
        self.framer.feed(data)
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc
        self._wake()
        if self.sink is not None:
            self.sink.closed(exc)
        if self.on_lost is not None:
            self.on_lost(exc)

    @property
    def paused_peer(self) -> bool:
        """True while this side's writes are backed up and its peer's reading is paused for it."""
        return self._paused_peer

    def pause_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not self._paused_peer:
            self._paused_peer = True
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and self._paused_peer:
            self._paused_peer = False
            if not peer.transport.is_closing():
                peer.transport.resume_reading()

    # ---------------------------------------------------------------- login mode

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read_frame(self) -> tuple[bytes, bytes]:
        """The next whole frame ``(type_code, body)``; ChannelClosed at end of stream."""
        while True:
            frame = self.framer.next_frame()
            if frame is not None:
                return frame
            if self._eof:
                if self.framer.buffer:
                    raise RemoteProtocolError("connection closed in the middle of a message")
                raise ChannelClosed("connection closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    @property
    def is_closed(self) -> bool:
        return self._eof or self.transport is None or self.transport.is_closing()

    # ---------------------------------------------------------------- switching modes

    async def start_tls(self, context: object, *, server_side: bool,
                        server_hostname: str | None = None) -> None:
        """Upgrade this connection to TLS in place (after 'S' to an SSLRequest)."""
        import ssl

        assert isinstance(context, ssl.SSLContext) and self.transport is not None
        if self.framer.buffer:
            # bytes after SSLRequest/'S' and before the handshake: a MITM injection (CVE-2021-23214)
            raise RemoteProtocolError("unexpected data received before the TLS handshake")
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(self.transport, self, context, server_side=server_side,
                                         server_hostname=server_hostname)
        if transport is None:
            raise ChannelClosed("connection closed during the TLS handshake")
        self.transport = transport

    def start_relay(self, sink: Sink) -> None:
        """From now on every received chunk goes to ``sink``; buffered bytes first."""
        self.sink = sink
        leftover = bytes(self.framer.buffer)
        self.framer.buffer.clear()
        if leftover:
            sink.data(leftover)
        if self._eof:
            sink.closed(self._lost)
