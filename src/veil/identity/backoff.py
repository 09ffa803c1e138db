"""Failed-login accounting per (identity, client address) with exponential backoff.

After ``threshold`` recent failures the next attempt must wait
``base * 2**(failures - threshold)`` seconds (capped).  Failures older than
``window`` are forgotten; the table is bounded so a flood of random names
cannot grow it without limit.  Logged without ever touching a password.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("veil.identity")


@dataclass(slots=True)
class _Entry:
    failures: int
    last: float


class FailureTracker:
    def __init__(self, *, clock: Callable[[], float], threshold: int = 5, base: float = 1.0,
                 cap: float = 300.0, window: float = 900.0, max_entries: int = 100_000) -> None:
        self._clock = clock
        self.threshold = threshold
        self.base = base
        self.cap = cap
        self.window = window
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, key: tuple[str, str]) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.last > self.window:
            del self._entries[key]
            return None
        return entry

    def failures(self, username: str, client_addr: str) -> int:
        with self._lock:
            entry = self._current((username, client_addr))
            return entry.failures if entry else 0

    def backoff_seconds(self, username: str, client_addr: str) -> float:
        """Seconds the next attempt must still wait (0.0 below the threshold or once waited out)."""
        with self._lock:
            entry = self._current((username, client_addr))
            if entry is None or entry.failures < self.threshold:
                return 0.0
            delay = min(self.cap, self.base * 2 ** (entry.failures - self.threshold))
            return max(0.0, entry.last + delay - self._clock())

    def record_failure(self, username: str, client_addr: str) -> None:
        key = (username, client_addr)
        with self._lock:
            entry = self._current(key)
            now = self._clock()
            if entry is None:
                entry = self._entries[key] = _Entry(0, now)
            entry.failures += 1
            entry.last = now
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            failures = entry.failures
        if failures >= self.threshold:
            delay = min(self.cap, self.base * 2 ** (failures - self.threshold))
            log.warning("login failure %d for identity %r from %s; backing off %.0fs",
                        failures, username, client_addr, delay)
        else:
            log.info("login failure %d for identity %r from %s", failures, username, client_addr)

    def record_success(self, username: str, client_addr: str) -> None:
        with self._lock:
            self._entries.pop((username, client_addr), None)
