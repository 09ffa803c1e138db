"""``on_store_failure: spool``: a bounded local file that holds batches while the store is down.

Wraps the real store.  While the store accepts, batches go straight to it.  When
it fails, the batch (events already numbered and hashed, checkpoints already
signed) is appended to the spool file and fsynced, so the writer carries on;
every later batch queues behind it, and the spool is forwarded in order, batch by
batch, as soon as the store answers again.  A separate offset file records how
far forwarding got, so a crash while forwarding never forwards a batch twice.
When the spool reaches ``max_bytes`` the wrapper raises ``AuditStoreUnavailable``
and the writer refuses: nothing is ever dropped.

A node can even start while its store is down, but only after a clean shutdown:
``remember`` (called by the writer once everything is durable and checkpointed) saves
where each log ends (size and tree edge) in ``audit-spool.state``.  Starting with the
store down uses that, and deletes it, so a crash never leaves a stale edge behind
(after a crash the store must be up to say where the log ends: sequence numbers must
never be handed out twice).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from veil.audit.record import StoredEvent
from veil.audit.sinks import NoteRecord, Sink, TreeState
from veil.audit.sinks.sqlite import frontier_from_json, frontier_to_json
from veil.errors import AuditStoreUnavailable

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
log = logging.getLogger("veil.audit")


class SpoolingSink:
    def __init__(self, primary: Sink, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.primary = primary
        self.directory = directory
        self.max_bytes = max_bytes
        self.path = directory / "audit-spool.jsonl"
        self.offset_path = directory / "audit-spool.offset"
        self.state_path = directory / "audit-spool.state"
        self.description = f"{primary.description} (spool {directory})"
        self._saved: dict[str, TreeState] | None = None  # read at an offline start

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
        saved = self._take_saved()
        try:
            self.primary.open()
            self._drain()
        except AuditStoreUnavailable as exc:
            if saved is None:
                raise AuditStoreUnavailable(f"{exc}; cannot start spooling without the store: the last "
                                            "shutdown was not clean, so only the store knows where the log "
                                            "ends") from None
            log.warning("audit store unavailable at start (%s): spooling to %s from the state saved at the "
                        "last clean shutdown", exc, self.directory)
            self._saved = saved

    def state(self, origin: str) -> TreeState:
        if self._saved is not None:
            if origin not in self._saved:
                raise AuditStoreUnavailable(f"audit store {self.primary.description} unavailable and no "
                                            f"saved state for {origin}")
            return self._saved[origin]
        self._drain()
        return self.primary.state(origin)

    def remember(self, origin: str, state: TreeState) -> None:
        """Save where ``origin``'s log ends (everything durable and checkpointed) for an offline start."""
        saved = self._read_saved()
        saved[origin] = {"size": state.frontier_size, "frontier": frontier_to_json(state.frontier)}
        tmp = self.state_path.with_suffix(".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as f:
                json.dump(saved, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_path)
        except OSError as exc:  # only the offline start is lost: the next start needs the store
            log.warning("cannot save the audit log's end in %s: %s", self.directory, exc.strerror)

    def _read_saved(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _take_saved(self) -> dict[str, TreeState] | None:
        """The saved ends, removed from disk: valid for this start only (a crash must not reuse them)."""
        raw = self._read_saved()
        self.state_path.unlink(missing_ok=True)
        if not raw:
            return None
        try:
            return {origin: TreeState(frontier_from_json(str(v["frontier"])), int(v["size"]), ())
                    for origin, v in raw.items()}
        except (KeyError, TypeError, ValueError):
            return None

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
