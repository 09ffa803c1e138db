"""The default store: one SQLite file in WAL mode, one transaction per batch.

Uniqueness of (origin, seq) is an index rather than part of the table, so a
second writer misconfigured with the same node id fails loudly; the verifier does
not rely on it (an attacker with file access can drop it).
"""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from veil.audit.record import StoredEvent
from veil.audit.sinks import EMPTY_STATE, NoteRecord, TreeState
from veil.errors import AuditStoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
  origin TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, time_us INTEGER NOT NULL,
  type TEXT NOT NULL, leaf BLOB NOT NULL, data BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS audit_events_seq ON audit_events (origin, seq);
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (time_us);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  origin TEXT NOT NULL, size INTEGER NOT NULL, note TEXT NOT NULL, frontier TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS audit_checkpoints_size ON audit_checkpoints (origin, size);
CREATE TABLE IF NOT EXISTS audit_leases (
  origin TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
"""


# Events go in as multi-row INSERTs rather than executemany: sqlite3 drops and retakes the GIL
# around every statement step, and under load each retake waits on the front end's event loop.
# A step per chunk took the writer thread from 30 to 20 us of CPU per event at 8 pgbench
# clients.  Chunk sizes are powers of four so a handful of prepared statements serve any batch.
CHUNK_SIZES = (256, 64, 16, 4, 1)


@functools.lru_cache(maxsize=len(CHUNK_SIZES))
def _insert_events(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)  # StoredEvent's field order
    return f"INSERT INTO audit_events (origin, seq, event_id, time_us, type, data, leaf) VALUES {values}"


def _chunks(events: Sequence[StoredEvent]) -> Iterator[Sequence[StoredEvent]]:
    start = 0
    while start < len(events):
        size = next(size for size in CHUNK_SIZES if size <= len(events) - start)
        yield events[start:start + size]
        start += size


def frontier_to_json(frontier: Sequence[tuple[int, bytes]]) -> str:
    return json.dumps([[size, h.hex()] for size, h in frontier])


def frontier_from_json(text: str) -> tuple[tuple[int, bytes], ...]:
    return tuple((int(size), bytes.fromhex(h)) for size, h in json.loads(text))


def _blob(value: object) -> bytes:
    """Column values as bytes even when an edit stored them as TEXT (the verifier must still run)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value).encode()


class SqliteSink:
    def __init__(self, path: Path, *, synchronous: str = "FULL", readonly: bool = False,
                 busy_timeout: float = 5.0) -> None:
        self.busy_timeout = busy_timeout
        self.path = path
        self.readonly = readonly
        self.description = f"sqlite:///{path}"
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        try:
            if self.readonly:  # readers never create or repair anything: they look at what is there
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False, isolation_level=None, timeout=10)
                conn.execute("SELECT 1 FROM audit_events LIMIT 1")
                self._conn = conn
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=self.busy_timeout)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise AuditStoreUnavailable(f"audit store {self.description} unavailable: {exc}") from exc
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    def state(self, origin: str) -> TreeState:
        row = self.conn.execute(
            "SELECT size, frontier FROM audit_checkpoints WHERE origin = ? ORDER BY size DESC LIMIT 1",
            (origin,)).fetchone()
        size, frontier = (int(row[0]), frontier_from_json(row[1])) if row else (0, ())
        tail = self.conn.execute("SELECT leaf FROM audit_events WHERE origin = ? AND seq > ? ORDER BY seq",
                                 (origin, size)).fetchall()
        if not row and not tail:
            return EMPTY_STATE
        return TreeState(frontier, size, tuple(bytes(r[0]) for r in tail))

    def append(self, origin: str, events: Sequence[StoredEvent], notes: Sequence[NoteRecord]) -> None:
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                for chunk in _chunks(events):
                    conn.execute(_insert_events(len(chunk)), list(itertools.chain.from_iterable(chunk)))
                conn.executemany(
                    "INSERT INTO audit_checkpoints (origin, size, note, frontier) VALUES (?, ?, ?, ?)",
                    [(origin, n.size, n.note, frontier_to_json(n.frontier)) for n in notes])
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise AuditStoreUnavailable(f"audit store {self.description} failed: {exc}") from exc

    def lease(self, origin: str, holder: str, ttl: float, *, release: bool = False) -> bool:
        with self._lock:
            try:
                if release:
                    self.conn.execute("DELETE FROM audit_leases WHERE origin = ? AND holder = ?",
                                      (origin, holder))
                    return True
                now = time.time()
                cur = self.conn.execute(
                    "INSERT INTO audit_leases (origin, holder, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT (origin) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
                    "WHERE audit_leases.holder = excluded.holder OR audit_leases.expires < ?",
                    (origin, holder, now + ttl, now))
                return cur.rowcount == 1
            except sqlite3.Error as exc:
                raise AuditStoreUnavailable(f"audit store {self.description} failed: {exc}") from exc

    def idle(self) -> None:
        return None

    def remember(self, origin: str, state: TreeState) -> None:
        return None  # the store itself says where the log ends

    def origins(self) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT origin FROM audit_events UNION "
                                 "SELECT DISTINCT origin FROM audit_checkpoints ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def events(self, origin: str, start_seq: int = 1) -> Iterator[StoredEvent]:
        cur = self.conn.execute(
            "SELECT origin, seq, event_id, time_us, type, data, leaf FROM audit_events "
            "WHERE origin = ? AND seq >= ? ORDER BY seq, rowid", (origin, start_seq))
        for o, seq, eid, t, typ, data, leaf in cur:
            yield StoredEvent(o, int(seq), str(eid), int(t), str(typ), _blob(data), _blob(leaf))

    def notes(self, origin: str) -> list[str]:
        rows = self.conn.execute("SELECT note FROM audit_checkpoints WHERE origin = ? ORDER BY size, rowid",
                                 (origin,)).fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
