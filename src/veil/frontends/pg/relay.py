"""The hot path: cut both byte streams into messages, forward most of them as slices.

For every chunk that arrives, the relay walks the message headers (type byte and
length) and forwards runs of messages it does not need to look at as slices of the
received bytes; only the types the ``Exchange`` must see are handed to it.  DataRow
and CopyData (the bulk of any result) are never split into fields unless a RowMasker
is active for the current result.  When a chunk holds only forwarded messages, it is
written on as the very same bytes object.

With ``audit.confirm`` the relay holds what goes to the client after a request finished
(its CommandComplete/ReadyForQuery and anything behind them) until the request's audit
event is stored, reading nothing more from the upstream meanwhile; if the store fails or
does not answer in time the client gets FATAL 58000 and the session ends: a result is
never released without its event.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable

from veil.errors import ProtocolError, RemoteProtocolError
from veil.frontends.pg.exchange import Exchange
from veil.frontends.pg.state import ClientProtocolViolation, EndSession
from veil.pipeline.hooks import Confirmation
from veil.upstream.channel import MessageChannel, Sink
from veil.wire.pg import messages as m
from veil.wire.pg.framing import DEFAULT_MAX_MESSAGE_SIZE

log = logging.getLogger("veil.pg")

_LEN = struct.Struct("!i").unpack_from
_D, _d = ord("D"), ord("d")
_ROWS_FAST = frozenset({_D, _d})
_COPY_FAST = frozenset({_d})


class _Side(Sink):
    """One direction of the relay: frames what arrives on ``source`` and writes to ``target``.

    A message that arrives in pieces is handled without quadratic copying: a forwarded
    type (DataRow/CopyData without a masker) streams through as its pieces arrive
    (``skip`` counts the bytes still to pass); any other is gathered in a bytearray
    until it is whole (``need`` is its full size once the header is known).
    """

    __slots__ = ("buffer", "fast", "handle", "name", "need", "relay", "skip", "source", "target")

    def __init__(self, relay: Relay, name: str, source: MessageChannel, target: MessageChannel,
                 handle: Callable[[int, bytes], None], fast: frozenset[int]) -> None:
        self.relay = relay
        self.name = name
        self.source = source
        self.target = target
        self.handle = handle
        self.fast = fast
        self.buffer = bytearray()
        self.need = 0
        self.skip = 0

    def _out(self) -> list[bytes]:
        ex = self.relay.exchange
        return ex.to_upstream if self.name == "client" else ex.to_client

    def data(self, data: bytes) -> None:
        relay = self.relay
        if relay.done:
            return
        if self.skip:  # the rest of a forwarded message that is still arriving
            take = min(self.skip, len(data))
            self.skip -= take
            relay.exchange.fast_bytes += take
            self._out().append(data[:take] if take < len(data) else data)
            data = data[take:]
            if not data:
                relay.flush()
                return
        if self.buffer:
            self.buffer += data
            if len(self.buffer) < 5 or len(self.buffer) < self._needed():
                return
            data = bytes(self.buffer)
            self.buffer = bytearray()
            self.need = 0
        try:
            self._frames(data)
        except (ProtocolError, ClientProtocolViolation) as exc:
            relay.protocol_failure(self.name, exc)
            return
        except EndSession as exc:
            relay.flush()
            relay.fatal(exc.sqlstate, str(exc))
            relay.end("ended-by-veil", cancel=False)
            return
        except Exception:
            log.exception("veil: relay failure")
            relay.protocol_failure(self.name, RemoteProtocolError("internal error"))
            return
        relay.flush()

    def _needed(self) -> int:
        if not self.need:
            self.need = 1 + self._length(self.buffer, 0)
        return self.need

    def _length(self, data: bytes | bytearray, pos: int) -> int:
        (length,) = _LEN(data, pos + 1)
        if length < 4 or length > self.relay.max_message_size:
            raise RemoteProtocolError(f"invalid message length {length} from the {self.name}")
        return int(length)

    def _frames(self, data: bytes) -> None:
        """Handle every whole message in ``data``; keep or stream the incomplete tail."""
        relay = self.relay
        n = len(data)
        pos = run = 0
        fast = self.fast
        limit = relay.max_message_size
        out = self._out()
        fast_bytes = 0
        while n - pos >= 5:
            t = data[pos]
            (length,) = _LEN(data, pos + 1)
            if length < 4 or length > limit:
                raise RemoteProtocolError(f"invalid message length {length} from the {self.name}")
            end = pos + 1 + length
            if end > n:
                break
            if t in fast:
                fast_bytes += length
            else:
                if run < pos:
                    out.append(data[run:pos])
                if fast_bytes:
                    relay.exchange.fast_bytes += fast_bytes
                    fast_bytes = 0
                self.handle(t, data[pos:end])
                fast = self.fast  # the handler may have switched masking on or off
                run = end
            pos = end
        if pos < n and n - pos >= 5 and data[pos] in fast:
            # a forwarded message still arriving: pass on what is here, stream the rest
            self.skip = pos + 1 + self._length(data, pos) - n
            fast_bytes += n - pos
            pos = n
        relay.exchange.fast_bytes += fast_bytes
        if run == 0 and pos == n and not out:
            out.append(data)  # the whole chunk untouched: no copy
        elif run < pos:
            out.append(data[run:pos])
        if pos < n:
            self.buffer = bytearray(data[pos:])
            if n - pos >= 5:
                self.need = 1 + self._length(data, pos)

    def closed(self, exc: Exception | None) -> None:
        self.relay.side_closed(self.name)


class Relay:
    """Joins a client channel and an upstream channel through an ``Exchange``."""

    def __init__(self, client: MessageChannel, upstream: MessageChannel, exchange: Exchange, *,
                 on_end: Callable[[Relay, str], None],
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.client = client
        self.upstream = upstream
        self.exchange = exchange
        self.max_message_size = max_message_size
        self.done = False
        self.end_reason = ""
        self._on_end = on_end
        self._held: Confirmation | None = None  # the confirmation client output waits for
        self._held_timer: asyncio.TimerHandle | None = None
        client.peer, upstream.peer = upstream, client
        self._from_client = _Side(self, "client", client, upstream, exchange.client_message, _COPY_FAST)
        self._from_upstream = _Side(self, "upstream", upstream, client, exchange.upstream_message, _ROWS_FAST)
        exchange.on_masker_change = self._masker_changed
        exchange.on_copy_mask_change = self._masker_changed

    def start(self) -> None:
        self.upstream.start_relay(self._from_upstream)
        self.client.start_relay(self._from_client)

    def _masker_changed(self, active: bool) -> None:
        """Which upstream messages may bypass the Exchange, from its state (not from ``active`` alone).

        While results are suppressed (masking failed: fail closed) or a COPY is masked,
        nothing bypasses it; while rows are masked, only CopyData does.
        """
        ex = self.exchange
        if ex.suppressing or ex.copy_masker is not None:
            self._from_upstream.fast = frozenset()
        else:
            self._from_upstream.fast = _COPY_FAST if ex.masker is not None else _ROWS_FAST

    def flush(self) -> None:
        ex = self.exchange
        if ex.to_upstream:
            data = ex.to_upstream[0] if len(ex.to_upstream) == 1 else b"".join(ex.to_upstream)
            ex.to_upstream.clear()
            self.upstream.write(data)
        if ex.to_client:
            if ex.confirming is not None and not self._confirmed(ex.confirming):
                return
            data = ex.to_client[0] if len(ex.to_client) == 1 else b"".join(ex.to_client)
            ex.to_client.clear()
            self.client.write(data)

    # ------------------------------------------------------------ audit.confirm

    def _confirmed(self, pending: Confirmation) -> bool:
        """May client output go now?  If the event is not stored yet, hold it until it is."""
        if not pending.done():
            if self._held is not pending:
                self._hold(pending)
            return False
        if self.exchange.confirming is pending:
            self.exchange.confirming = None
        if pending.exception() is not None:
            self._unconfirmed("the audit store failed")
            return False
        return True

    def _hold(self, pending: Confirmation) -> None:
        loop = asyncio.get_running_loop()
        if self._held is None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()  # results behind the held one wait upstream
        if self._held_timer is not None:
            self._held_timer.cancel()
        self._held = pending
        timeout = self.exchange.pipeline.confirm_timeout
        self._held_timer = loop.call_later(timeout, self._confirm_timed_out, pending, timeout)
        # set from the audit writer's thread: hop back onto the loop
        pending.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release, pending))

    def _release(self, pending: Confirmation) -> None:
        if self.done or self._held is not pending:
            return
        self._held = None
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        transport = self.upstream.transport
        if transport is not None and not transport.is_closing() and not self.client.paused_peer:
            transport.resume_reading()
        self.flush()

    def _confirm_timed_out(self, pending: Confirmation, timeout: float) -> None:
        if not self.done and self._held is pending and not pending.done():
            self._unconfirmed(f"no confirmation within {timeout:g} s")

    def _unconfirmed(self, why: str) -> None:
        log.error("veil: a statement's audit event was not stored (%s): result withheld, session ended", why)
        self.exchange.to_client.clear()
        self.fatal("58000", "veil: the audit trail could not record this statement; its result is "
                   "withheld and the session is closed")
        self.end("audit-unconfirmed", cancel=False)

    def protocol_failure(self, side: str, exc: Exception) -> None:
        """Malformed bytes: the client gets FATAL 08P01 (or 08006 for the upstream) and both close."""
        log.warning("veil: protocol violation by the %s: %s", side, exc)
        self.exchange.to_client.clear()
        self.exchange.to_upstream.clear()
        if side == "client":
            self.fatal("08P01", f"veil: invalid message from the client: {exc}")
            self.end("protocol-error", cancel=True)
        else:
            self.fatal("08006", "veil: invalid message from the upstream database")
            self.end("upstream-protocol-error", cancel=False)

    def fatal(self, sqlstate: str, message: str) -> None:
        self.client.write(m.ErrorResponse.make("FATAL", sqlstate, message).encode())

    def side_closed(self, side: str) -> None:
        if self.done:
            return
        if side == "client":
            self.end("client-closed", cancel=self.exchange.busy)
        else:
            if not self.exchange.upstream_fatal:
                self.fatal("08006", "veil: the connection to the upstream database was lost")
            self.end("upstream-lost", cancel=False)

    def end(self, reason: str, *, cancel: bool) -> None:
        """Close both sides once; ``cancel`` asks the owner to cancel a running upstream query."""
        if self.done:
            return
        self.done = True
        self.end_reason = reason
        if self._held_timer is not None:
            self._held_timer.cancel()
        self.exchange.abandon("08006" if reason != "client-closed" else "57014")
        self.client.close()
        if not cancel:
            self.upstream.close()
        self._on_end(self, "cancel" if cancel else reason)
