"""A TCP forwarder a test can kill and restart, listen in on, or make misbehave.

The way to take a shared server "down" for one client (kill, then start again on the
same port), the way to see every byte a client receives (``on_reply``), and a
fault-injecting proxy for the PostgreSQL protocol (``Fault``): split every packet into
one-byte writes, merge packets, or cut the connection after N bytes or at a protocol
phase (the n-th message of a type, torn after ``keep`` bytes).  Placed between a
client and veil it plays a bad network or a dying client; between veil and PostgreSQL
a bad network or a dying database.

Faults are chosen per connection by a marker in its startup packet (typically a
unique ``application_name``), so one forwarder can carry other traffic - veil's
catalog connections, the next healthy client - untouched.  SSLRequest/GSSENCRequest
are relayed before the startup packet is inspected; a connection that switches to
TLS is forwarded without faults.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_NEGOTIATION_CODES = (80877103, 80877104)  # SSLRequest, GSSENCRequest


@dataclass
class Direction:
    """What to do to the bytes flowing one way.

    ``split``: every byte is its own ``send`` (TCP_NODELAY, ``split_delay`` s apart).
    ``merge``: hold chunks until the source is quiet for ``merge`` s, then one ``send``.
    ``cut_after``: forward that many bytes, then cut both sides.
    ``cut_on``: forward up to the ``cut_nth`` message whose type byte is in ``cut_on``
    plus ``cut_keep`` bytes of it (3: a torn header), then cut both sides.
    """

    split: bool = False
    split_delay: float = 0.0
    merge: float = 0.0
    cut_after: int | None = None
    cut_on: bytes = b""
    cut_nth: int = 1
    cut_keep: int = 3


@dataclass
class Fault:
    """Faults for the connections whose startup packet contains ``match`` (None: every connection)."""

    match: bytes | None = None
    to_target: Direction = field(default_factory=Direction)
    to_client: Direction = field(default_factory=Direction)
    connections: int = 0  # connections this fault was applied to
    cut: threading.Event = field(default_factory=threading.Event)  # set when it cut one


class _Tracker:
    """Finds message boundaries in one direction of a PostgreSQL stream (startup packet untyped)."""

    def __init__(self, untyped_first: bool) -> None:
        self.untyped = untyped_first
        self.header = b""  # bytes of the current message's header seen so far
        self.remaining = 0  # body bytes of the current message still to come
        self.counts: dict[int, int] = {}

    def cut_point(self, data: bytes, d: Direction, sent: int) -> int | None:
        """Index in ``data`` at which to cut, or None to forward all of it."""
        if d.cut_after is not None and sent + len(data) >= d.cut_after:
            return max(0, d.cut_after - sent)
        if not d.cut_on:
            return None
        i = 0
        while i < len(data):
            if self.remaining:
                step = min(self.remaining, len(data) - i)
                self.remaining -= step
                i += step
                continue
            need = (4 if self.untyped else 5) - len(self.header)
            if not self.header and not self.untyped and data[i] in d.cut_on:
                self.counts[data[i]] = self.counts.get(data[i], 0) + 1
                if sum(self.counts.values()) >= d.cut_nth:
                    return min(len(data), i + d.cut_keep)
            take = data[i:i + need]
            self.header += take
            i += len(take)
            if len(self.header) == (4 if self.untyped else 5):
                (length,) = struct.unpack("!I", self.header[-4:])
                self.remaining = max(0, length - 4)
                self.header, self.untyped = b"", False
        return None


class Forwarder:
    """Listens on 127.0.0.1:``port`` and relays every connection to ``target``; ``kill`` cuts all of them."""

    def __init__(self, target: tuple[str, int], port: int = 0,
                 on_reply: Callable[[bytes], None] | None = None) -> None:
        self.target = target
        self.port = port
        self.on_reply = on_reply  # sees every chunk the target sends back to a client
        self.faults: list[Fault] = []
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def add_fault(self, fault: Fault) -> Fault:
        """Apply ``fault`` to new connections it matches (first matching fault wins)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def start(self) -> Forwarder:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._connection, args=(client, upstream), daemon=True).start()

    def _connection(self, client: socket.socket, upstream: socket.socket) -> None:
        """Relay negotiation, inspect the startup packet, then pump both ways with the matching fault."""
        try:
            first = _read_packet(client)
            while len(first) == 8 and struct.unpack("!I", first[4:])[0] in _NEGOTIATION_CODES:
                upstream.sendall(first)
                answer = upstream.recv(1)
                client.sendall(answer)
                if answer != b"N":  # TLS/GSS from here on: opaque bytes, no faults
                    self._pumps(client, upstream, None, b"")
                    return
                first = _read_packet(client)
        except OSError:
            _close(client, upstream)
            return
        fault = self._match(first)
        self._pumps(client, upstream, fault, first)

    def _match(self, startup: bytes) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match is None or fault.match in startup:
                    fault.connections += 1
                    return fault
        return None

    def _pumps(self, client: socket.socket, upstream: socket.socket, fault: Fault | None,
               first: bytes) -> None:
        plain = Direction()
        up = fault.to_target if fault else plain
        down = fault.to_client if fault else plain
        for sock, d in ((upstream, up), (client, down)):
            if d.split:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = (client, upstream)
        threading.Thread(target=self._pump, args=(client, upstream, None, up, _Tracker(False), first,
                                                  fault, pair), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, self.on_reply, down, _Tracker(False), b"",
                                                  fault, pair), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, tap: Callable[[bytes], None] | None,
              d: Direction, tracker: _Tracker, first: bytes, fault: Fault | None,
              pair: tuple[socket.socket, socket.socket]) -> None:
        sent = 0
        if first:
            tracker.untyped = True  # the client's startup packet leads its stream
        with contextlib.suppress(OSError):
            data = first
            while True:
                if not data:
                    data = _recv(src, d.merge)
                    if not data:
                        break
                if tap is not None:
                    tap(data)
                cut = tracker.cut_point(data, d, sent)
                _send(dst, data if cut is None else data[:cut], d)
                sent += len(data)
                if cut is not None:
                    if fault is not None:
                        fault.cut.set()
                    _close(*pair)
                    return
                data = b""
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def kill(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept(), so the port is free
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()


def _read_packet(sock: socket.socket) -> bytes:
    """One length-prefixed untyped packet (startup, SSLRequest); short on EOF."""
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4 - len(data))
        if not chunk:
            return data
        data += chunk
    (length,) = struct.unpack("!I", data)
    while len(data) < min(length, 1 << 20):
        chunk = sock.recv(min(length, 1 << 20) - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _recv(src: socket.socket, merge: float) -> bytes:
    data = src.recv(65536)
    if not data or merge <= 0:
        return data
    src.settimeout(merge)  # keep collecting until the sender pauses for ``merge`` seconds
    try:
        while more := src.recv(65536):
            data += more
    except TimeoutError:
        pass
    finally:
        src.settimeout(None)
    return data


def _send(dst: socket.socket, data: bytes, d: Direction) -> None:
    if not d.split:
        dst.sendall(data)
        return
    for i in range(len(data)):
        dst.sendall(data[i:i + 1])
        if d.split_delay:
            time.sleep(d.split_delay)


def _close(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()
