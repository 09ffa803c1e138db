"""Appends events to a node's Merkle log and signs checkpoints.

``record`` is called on the front end's event loop, so it only encodes the event,
gives it the next sequence number and queues it; ``record_template`` (request events)
only numbers and queues, and leaves the encoding through an ``EventTemplate`` to the
writer.  One background thread encodes what was left to it, hashes the leaves and
drains the queue in batches: each batch, and any checkpoint
due (every ``checkpoint_interval`` seconds while events flow, every
``checkpoint_every`` events, and on ``close``), goes to the store in one
transaction.  The in-memory tree advances only after the store confirmed, so a
failed batch is retried as it was, in order: no event is dropped or renumbered.

``durable(seq)`` hands out a future that completes once event ``seq`` is in the store
(or fails when the store does): the front ends hold a statement's result until then
when ``audit.confirm`` is on (the default for NATS JetStream).

While the store is failing, ``record`` raises ``AuditStoreUnavailable`` (the
pipeline refuses statements); with ``on_store_failure: spool`` the sink is a
``SpoolingSink`` that keeps accepting into a bounded local spool instead.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veil.audit.checkpoint import Checkpoint, Signer
from veil.audit.record import EventTemplate, StoredEvent, canonical_json, origin_for
from veil.audit.sinks import NoteRecord, Sink, TreeState
from veil.audit.tree import CompactTree, leaf_hash
from veil.errors import AuditError, AuditStoreUnavailable

log = logging.getLogger("veil.audit")
RESERVED = frozenset({"v", "seq", "id", "time", "node"})
FORMAT_VERSION = 1
IDLE_INTERVAL = 1.0
# After the first event of a batch the writer waits this long for more.  Batches of a few hundred
# events cost the writer thread, and the event loop sharing the GIL with it, far less per event
# than batches of a few dozen: pgbench -S -c 8 through veil ran 7,550 tps at 5 ms and 9,200 at
# 50 ms (bench/RESULTS.md).  Events are in memory that much longer before they are stored; with
# audit.confirm nothing is released before its event is stored, and there is no linger.
LINGER = 0.05


# An event waiting for the writer thread: seq, event id, time_us, type, and its canonical bytes or
# what the writer encodes them from (record_template); origin and leaf hash are added there.
Deferred = tuple[EventTemplate, Mapping[str, Any]]
Queued = tuple[int, str, int, str, bytes | Deferred]


@dataclass(frozen=True, slots=True)
class Receipt:
    seq: int
    event_id: str


def format_time(time_us: int) -> str:
    """RFC 3339 UTC with microseconds: fixed width, so text order is time order."""
    dt = datetime.fromtimestamp(time_us // 1_000_000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{time_us % 1_000_000:06d}Z"


class Stamper:
    """``format_time`` with strftime once per second rather than per event; one per thread."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second, self._prefix = -1, ""

    def __call__(self, time_us: int) -> str:
        second = time_us // 1_000_000
        if second != self._second:
            self._second, self._prefix = second, format_time(second * 1_000_000)[:20]
        return f"{self._prefix}{time_us % 1_000_000:06d}Z"


def scrubbed(value: Any) -> Any:
    """``value`` with text JSON cannot hold made valid (lone surrogates become U+FFFD) and
    non-finite numbers made null: what a deferred event falls back to (``AuditWriter._render``)."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, Mapping):
        return {scrubbed(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class AuditWriter:
    """One node's append-only log; thread-safe ``record``, one background writer thread."""

    def __init__(self, sink: Sink, signer: Signer, *, node_id: str, checkpoint_interval: float = 1.0,
                 checkpoint_every: int = 1000, anchor: Path | None = None, max_pending: int = 100_000,
                 batch_max: int = 5000, retry_interval: float = 0.5, lease_ttl: float = 15.0,
                 linger: float = LINGER, clock: Callable[[], float] = time.time) -> None:
        if checkpoint_interval <= 0 or checkpoint_every < 1:
            raise AuditError("checkpoint interval and count must be positive")
        self.sink = sink
        self.signer = signer
        self.node_id = node_id
        self.origin = origin_for(node_id)
        self.checkpoint_interval = checkpoint_interval
        self.checkpoint_every = checkpoint_every
        self.anchor = anchor
        self.max_pending = max_pending
        self.batch_max = batch_max
        self.retry_interval = retry_interval
        self.linger = linger  # see LINGER
        self.lease_ttl = lease_ttl
        self._holder = uuid.uuid4().hex
        self._renewed = 0.0
        self._lease_lost = False
        self._recovered: str | None = None
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[Queued] = deque()
        self._seq = 0
        self._durable = 0
        self._last_time_us = 0
        self._stamp = Stamper()  # under the lock, for record()
        self._writer_stamp = Stamper()  # the writer thread's, for deferred events
        self._ids: list[str] = []
        self._tree = CompactTree()
        self._checkpointed = 0
        self._last_checkpoint = 0.0
        self._failure: str | None = None
        self._stopping = False
        self._force_checkpoint = False
        self._thread: threading.Thread | None = None
        self._waiters: deque[tuple[int, Future[None]]] = deque()  # (seq, future) in seq order
        self.stats = {"events": 0, "batches": 0, "checkpoints": 0, "store_failures": 0}

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, *, lease_wait: float = 0.0) -> AuditWriter:
        """Open the store, continue the node's tree where it ended, start the writer thread.

        Only one writer may append to an origin (else two would hand out the same sequence
        numbers).  When another live process holds the node's origin (``veil serve`` while a
        CLI command records an event, or a second process misconfigured with the same node
        id), this writer forks to its own origin ``<node>~<id>`` instead of corrupting the log.
        ``lease_wait`` first waits that long for the holder to finish or its lease to lapse (a
        server restarting after a crash, or after a shutdown that could not release it).
        """
        self.sink.open()
        deadline = time.monotonic() + lease_wait
        while not (held := self.sink.lease(self.origin, self._holder, self.lease_ttl)) \
                and time.monotonic() < deadline:
            time.sleep(0.25)
        if not held:
            forked = f"{self.node_id}~{self._holder[:8]}"
            log.warning("audit log %s is held by another running writer; writing to %s", self.origin,
                        origin_for(forked))
            self.node_id, self.origin = forked, origin_for(forked)
            if not self.sink.lease(self.origin, self._holder, self.lease_ttl):
                raise AuditError(f"cannot take the audit log {self.origin}")
        self._renewed = time.monotonic()
        state = self.sink.state(self.origin)
        tree = CompactTree.from_frontier(state.frontier)
        if tree.size != state.frontier_size:
            raise AuditError(f"audit store {self.sink.description}: stored tree edge does not match its size")
        for leaf in state.tail:
            tree.append(leaf)
        self._tree = tree
        self._seq = self._durable = tree.size
        self._checkpointed = state.frontier_size
        # A tail left unsigned by a crash gets signed now; the note says so, since whatever the
        # store held meanwhile is what this signature covers.
        self._recovered = f"{state.frontier_size + 1}..{tree.size}" if state.tail else None
        self._last_checkpoint = self._clock()
        self._thread = threading.Thread(target=self._run, name=f"veil-audit-{self.node_id}", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, sign a final checkpoint, stop the thread, close the store."""
        with self._cond:
            if self._thread is None:
                return
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        with self._cond:
            self._thread = None
            while self._waiters:
                self._waiters.popleft()[1].set_exception(AuditStoreUnavailable("audit writer stopped"))
        if not alive:
            try:
                self.sink.lease(self.origin, self._holder, 0, release=True)
            except AuditError:
                pass  # it expires on its own
            if self._durable == self._seq == self._checkpointed:  # lets a spool start offline next time
                self.sink.remember(self.origin, TreeState(self._tree.frontier(), self._tree.size, ()))
        self.sink.close()
        if alive or self._durable < self._seq:
            left = self._seq - self._durable
            raise AuditStoreUnavailable(f"audit store {self.sink.description}: {left} unwritten")

    # -- the caller's side -----------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._failure is None

    def record(self, body: Mapping[str, Any]) -> Receipt:
        """Queue one event; raises ``AuditStoreUnavailable`` while the store is failing, and
        ``AuditError`` for a body JSON cannot hold (then no sequence number is spent)."""
        if RESERVED & body.keys():
            raise AuditError(f"event body may not set {sorted(RESERVED & body.keys())}")

        def encode(seq: int, event_id: str, time_us: int) -> bytes:
            return canonical_json({"v": FORMAT_VERSION, "seq": seq, "id": event_id,
                                   "time": self._stamp(time_us), "node": self.node_id, **body})
        return self._append(str(body.get("type", "")), encode)

    def template(self, fixed: Mapping[str, Any], slots: Iterable[str]) -> EventTemplate:
        """An ``EventTemplate`` for ``record_template``: this node's events with ``fixed`` members."""
        holes = tuple(slots)
        if reserved := RESERVED & {*fixed, *holes}:
            raise AuditError(f"event body may not set {sorted(reserved)}")
        return EventTemplate({"v": FORMAT_VERSION, "node": self.node_id, **fixed},
                             (*holes, "seq", "id", "time"))

    def record_template(self, template: EventTemplate, values: Mapping[str, Any]) -> Receipt:
        """``record`` of the template's fixed members plus ``values`` (one per slot).

        For the request path, where every microsecond on the event loop counts: the event is
        numbered and queued here, and encoded by the writer thread with its batch, while that
        code is warm.  ``values`` must not change afterwards.  A value JSON cannot hold (a lone
        surrogate in a column name, say) cannot be refused here, so the writer records the event
        with such text replaced rather than leave a gap (see ``_render``).
        """
        return self._append(template.type, None, (template, values))

    def _append(self, kind: str, encode: Callable[[int, str, int], bytes] | None,
                deferred: Deferred | None = None) -> Receipt:
        """Number, time-stamp and queue one event, encoded now by ``encode`` (raising leaves no
        gap in the numbers) or ``deferred`` to the writer thread."""
        with self._cond:
            if self._thread is None or self._stopping:
                raise AuditStoreUnavailable("audit writer is not running")
            if self._failure is not None:
                raise AuditStoreUnavailable(self._failure)
            if len(self._queue) >= self.max_pending:
                raise AuditStoreUnavailable("audit queue full: the store is not keeping up")
            if not self._ids:  # 128 random bits per id like uuid4, one getrandom() per 64 ids
                pool = os.urandom(16 * 64).hex()
                self._ids = [pool[i:i + 32] for i in range(0, len(pool), 32)]
            event_id = self._ids.pop()
            time_us = max(int(self._clock() * 1_000_000), self._last_time_us)
            seq = self._seq + 1
            payload = encode(seq, event_id, time_us) if encode is not None else deferred
            assert payload is not None
            self._seq = seq
            self._last_time_us = time_us
            self._queue.append((seq, event_id, time_us, kind, payload))
            if len(self._queue) == 1:
                self._cond.notify_all()
        return Receipt(seq, event_id)

    def wait(self, seq: int | None = None, timeout: float | None = 10.0) -> None:
        """Block until event ``seq`` (default: everything recorded so far) is durable in the store."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._seq if seq is None else seq
            while self._durable < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise AuditStoreUnavailable(self._failure or "audit store did not confirm in time")
                self._cond.notify_all()
                self._cond.wait(left)

    def durable(self, seq: int) -> Future[None]:
        """A future that completes when event ``seq`` is in the store, or fails with
        ``AuditStoreUnavailable`` when the store fails (the event stays queued: it is retried,
        never dropped, but whoever waits should not count on it)."""
        future: Future[None] = Future()
        with self._cond:
            if self._durable >= seq:
                future.set_result(None)
            elif self._failure is not None or self._thread is None:
                future.set_exception(AuditStoreUnavailable(self._failure or "audit writer is not running"))
            else:
                self._waiters.append((seq, future))
        return future

    def _settle_waiters(self) -> None:
        """Complete the futures of events now durable; fail all of them while the store fails."""
        waiters = self._waiters
        if self._failure is not None:
            error = self._failure
            while waiters:
                waiters.popleft()[1].set_exception(AuditStoreUnavailable(error))
            return
        while waiters and waiters[0][0] <= self._durable:
            waiters.popleft()[1].set_result(None)

    def flush(self, timeout: float | None = 10.0) -> None:
        """Write everything queued and sign a checkpoint covering it."""
        with self._cond:
            self._force_checkpoint = True
            self._cond.notify_all()
        self.wait(None, timeout)
        with self._cond:
            target = self._seq
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._checkpointed < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise AuditStoreUnavailable(self._failure or "checkpoint not written in time")
                self._cond.wait(left)

    # -- the writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:  # a bug here must refuse statements, not stop auditing silently
            log.exception("audit writer thread failed")
            self._set_failure("audit writer failed; see the log")
            raise

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping and not self._checkpoint_due():
                    if not self._cond.wait(self._time_to_checkpoint()):
                        self._idle()
                if (self.linger > 0 and 0 < len(self._queue) < self.batch_max and not self._stopping
                        and not self._force_checkpoint):
                    self._cond.wait(self.linger)  # a flush() or close() notifies and ends it early
                queued = list(itertools.islice(self._queue, self.batch_max))  # deque[i] is O(i)
                stopping = self._stopping and len(queued) == len(self._queue)
            done = self._write([self._stored(item) for item in queued], final=stopping)
            if stopping and done:
                return
            if not done:
                with self._cond:
                    if self._stopping:
                        return  # the store is down at shutdown: close() reports what is left
                    self._cond.wait(self.retry_interval)

    def _stored(self, item: Queued) -> StoredEvent:
        """A queued event as the store takes it: encoded (when deferred) and leaf-hashed here, a
        batch at a time, rather than on the front end's loop."""
        seq, event_id, time_us, kind, payload = item
        data = payload if isinstance(payload, bytes) else self._render(payload, seq, event_id, time_us)
        return StoredEvent(self.origin, seq, event_id, time_us, kind, data, leaf_hash(data))

    def _render(self, deferred: Deferred, seq: int, event_id: str, time_us: int) -> bytes:
        """A deferred event's bytes.  Its number is spent, so it is written whatever its values:
        lone surrogates become U+FFFD, non-finite numbers null, and values that still fail
        leave their slots null.  Each case is logged (without the value)."""
        template, values = deferred
        own = {"seq": seq, "id": event_id, "time": self._writer_stamp(time_us)}
        try:
            return template.render({**values, **own})
        except AuditError as exc:  # its messages name types, never values
            log.error("audit event %d: %s; recorded with what JSON cannot hold replaced", seq, exc)
        except Exception as exc:  # a missing slot, say: a bug, but the event must still be written
            log.error("audit event %d: %s; recorded without its varying fields", seq, type(exc).__name__)
            return template.render({**dict.fromkeys(template.slots), **own})
        try:
            return template.render({**scrubbed(values), **own})
        except AuditError as exc:
            log.error("audit event %d: %s; recorded without its varying fields", seq, exc)
            return template.render({**dict.fromkeys(template.slots), **own})

    def _time_to_checkpoint(self) -> float:
        if self._durable == self._checkpointed:
            return IDLE_INTERVAL
        return min(IDLE_INTERVAL, max(0.0, self._last_checkpoint + self.checkpoint_interval - self._clock()))

    def _idle(self) -> None:
        """Let the store do housekeeping (spool forwarding, the lease) with the lock released."""
        self._cond.release()
        try:
            self.sink.idle()
            self._renew()
        except Exception:
            log.exception("audit store housekeeping failed")
        finally:
            self._cond.acquire()

    def _renew(self) -> None:
        if time.monotonic() - self._renewed < self.lease_ttl / 3:
            return
        try:
            held = self.sink.lease(self.origin, self._holder, self.lease_ttl)
        except AuditError:
            return  # the store is down: writes report that; the lease outlives short outages
        if held:
            self._renewed = time.monotonic()
        else:  # another writer took over after our lease lapsed: appending now would fork the log
            self._lease_lost = True
            self._set_failure(f"audit log {self.origin} was taken over by another writer")

    def _checkpoint_due(self) -> bool:
        if self._durable == self._checkpointed:
            return False
        return (self._force_checkpoint or self._durable - self._checkpointed >= self.checkpoint_every
                or self._clock() - self._last_checkpoint >= self.checkpoint_interval)

    def _write(self, batch: list[StoredEvent], *, final: bool) -> bool:
        if self._lease_lost:
            return False
        tree = self._tree.copy()
        notes: list[NoteRecord] = []
        now = self._clock()
        last = self._checkpointed
        for event in batch:
            tree.append(event.leaf)
            if tree.size - last >= self.checkpoint_every:  # every N events, exactly at N
                notes.append(self._note(tree, now))
                last = tree.size
        if tree.size > last and (final or self._force_checkpoint
                                 or now - self._last_checkpoint >= self.checkpoint_interval):
            notes.append(self._note(tree, now))
        if not batch and not notes:
            return True
        try:
            self.sink.append(self.origin, batch, notes)
        except AuditError as exc:
            self._set_failure(str(exc))
            return False
        except Exception as exc:  # a store bug must not kill the thread silently
            log.exception("audit store append failed")
            self._set_failure(f"audit store {self.sink.description} failed: {type(exc).__name__}")
            return False
        with self._cond:
            for _ in batch:
                self._queue.popleft()
            self._tree = tree
            self._durable = tree.size
            if notes:
                self._checkpointed = notes[-1].size
                self._last_checkpoint = now
                self._force_checkpoint = self._force_checkpoint and self._checkpointed < tree.size
                self.stats["checkpoints"] += len(notes)
            self.stats["events"] += len(batch)
            self.stats["batches"] += 1
            if self._failure is not None:
                log.warning("audit store %s available again", self.sink.description)
            self._failure = None
            self._settle_waiters()
            self._cond.notify_all()
        for note in notes:
            self._anchor(note.note)
        self._renew()
        return True

    def _note(self, tree: CompactTree, now: float) -> NoteRecord:
        # The key line lets a reader without audit.pub find the key (trust on first use); pinning
        # audit.pub (or --key) is what makes a re-signed forgery fail.
        extensions = [f"time {format_time(int(now * 1e6))}", f"key {self.signer.verifier.vkey()}"]
        if self._recovered is not None:
            extensions.append(f"recovered {self._recovered}")
            self._recovered = None
        cp = Checkpoint(self.origin, tree.size, tree.root(), tuple(extensions))
        return NoteRecord(tree.size, self.signer.sign(cp), tree.frontier())

    def _set_failure(self, message: str) -> None:
        with self._cond:
            if self._failure is None:
                log.error("audit store unavailable: %s", message)
            self._failure = message
            self.stats["store_failures"] += 1
            self._settle_waiters()
            self._cond.notify_all()

    def _anchor(self, note: str) -> None:
        """Append the note to the anchor (a file, or ``<node>.checkpoints`` in a directory)."""
        if self.anchor is None:
            return
        path = self.anchor / f"{self.node_id}.checkpoints" if self.anchor.is_dir() else self.anchor
        try:
            with path.open("a", encoding="utf-8") as f:
                f.write(note + "\n")
        except OSError as exc:
            log.error("cannot append checkpoint to the audit anchor %s: %s", path, exc.strerror)
