"""``on_store_failure: spool``: a bounded local file that holds batches while the store is down.

Wraps the real store.  While the store accepts, batches go straight to it.  When
it fails, the batch (events already numbered and hashed, checkpoints already
signed) is appended to the spool file and fsynced, so the writer carries on;
every later batch queues behind it, and the spool is forwarded in order, batch by
batch, as soon as the store answers again.  A separate offset file records how
far forwarding got, so a crash while forwarding never forwards a batch twice.
When the spool reaches ``max_bytes`` the wrapper raises ``AuditStoreUnavailable``
and the writer refuses: nothing is ever dropped.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from veil.audit.record import StoredEvent
from veil.audit.sinks import NoteRecord, Sink, TreeState
from veil.audit.sinks.sqlite import frontier_from_json, frontier_to_json
from veil.errors import AuditStoreUnavailable

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class SpoolingSink:
    def __init__(self, primary: Sink, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.primary = primary
        self.directory = directory
        self.max_bytes = max_bytes
        self.path = directory / "audit-spool.jsonl"
        self.offset_path = directory / "audit-spool.offset"
        self.description = f"{primary.description} (spool {directory})"

    # -- the spool file ------------------------------------------------------------------------
    def _offset(self) -> int:
        try:
            return int(self.offset_path.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def _set_offset(self, offset: int) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.offset_path)

    @property
    def spooled_bytes(self) -> int:
        try:
            return self.path.stat().st_size - self._offset()
        except OSError:
            return 0

    def _spool(self, origin: str, events: Sequence[StoredEvent], notes: Sequence[NoteRecord]) -> None:
        line = json.dumps({
            "origin": origin,
            "events": [[e.seq, e.event_id, e.time_us, e.type, base64.b64encode(e.data).decode(), e.leaf.hex()]
                       for e in events],
            "notes": [[n.size, n.note, frontier_to_json(n.frontier)] for n in notes],
        }) + "\n"
        if self.spooled_bytes + len(line) > self.max_bytes:
            raise AuditStoreUnavailable(f"audit store down and the spool {self.directory} is full")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def _drain(self) -> bool:
        """Forward spooled batches in order; True when the spool is empty afterwards."""
        if not self.path.exists():
            return True
        offset = self._offset()
        with self.path.open("rb") as f:
            f.seek(offset)
            for raw in f:
                batch = json.loads(raw)
                origin = batch["origin"]
                events = [StoredEvent(origin, seq, eid, t, typ, base64.b64decode(data), bytes.fromhex(leaf))
                          for seq, eid, t, typ, data, leaf in batch["events"]]
                notes = [NoteRecord(size, note, frontier_from_json(fr)) for size, note, fr in batch["notes"]]
                self.primary.append(origin, events, notes)  # raises while the store is still down
                offset += len(raw)
                self._set_offset(offset)
        self.path.unlink()
        self.offset_path.unlink(missing_ok=True)
        return True

    # -- Sink ----------------------------------------------------------------------------------
    def open(self) -> None:
        self.primary.open()
        self._drain()

    def state(self, origin: str) -> TreeState:
        self._drain()
        return self.primary.state(origin)

    def append(self, origin: str, events: Sequence[StoredEvent], notes: Sequence[NoteRecord]) -> None:
        try:
            if self._drain():
                self.primary.append(origin, events, notes)
                return
        except AuditStoreUnavailable:
            pass
        self._spool(origin, events, notes)

    def lease(self, origin: str, holder: str, ttl: float, *, release: bool = False) -> bool:
        try:
            return self.primary.lease(origin, holder, ttl, release=release)
        except AuditStoreUnavailable:
            return True  # the store is down: nobody else can append to it either

    def idle(self) -> None:
        if self.path.exists():
            try:
                self._drain()
            except AuditStoreUnavailable:
                pass

    def origins(self) -> list[str]:
        return self.primary.origins()

    def events(self, origin: str, start_seq: int = 1) -> Iterator[StoredEvent]:
        return self.primary.events(origin, start_seq)

    def notes(self, origin: str) -> list[str]:
        return self.primary.notes(origin)

    def close(self) -> None:
        self.idle()
        self.primary.close()
