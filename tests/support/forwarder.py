"""A TCP forwarder a test can kill and restart, or listen in on.

The way to take a shared server "down" for one client (kill, then start again on the
same port), and the way to see every byte a client receives (``on_reply``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class Forwarder:
    """Listens on 127.0.0.1:``port`` and relays every connection to ``target``; ``kill`` cuts all of them."""

    def __init__(self, target: tuple[str, int], port: int = 0,
                 on_reply: Callable[[bytes], None] | None = None) -> None:
        self.target = target
        self.port = port
        self.on_reply = on_reply  # sees every chunk the target sends back to a client
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

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
            for a, b, tap in ((client, upstream, None), (upstream, client, self.on_reply)):
                threading.Thread(target=self._pump, args=(a, b, tap), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, tap: Callable[[bytes], None] | None) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if tap is not None:
                    tap(data)
                dst.sendall(data)
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
