"""Reading the trail: time bounds, filters, inclusion proofs for one event.

The store hands out events in order; everything here works on decoded bodies or
on leaf hashes, so it is the same for every store.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from veil.audit.checkpoint import Verifier, parse_note
from veil.audit.record import StoredEvent, decode
from veil.audit.tree import inclusion_proof, leaf_hash, verify_inclusion
from veil.audit.writer import format_time
from veil.errors import AuditIntegrityError

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, now: datetime | None = None) -> str:
    """``2026-11-01``, ``2026-11-01T10:00:00Z`` or ``7d``/``12h`` ago -> the trail's time format."""
    now = now or datetime.now(UTC)
    m = _RELATIVE.match(text.strip())
    if m:
        when = now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        try:
            when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a time: {text!r} (ISO 8601 like 2026-11-01T10:00Z, or 12h, 7d)") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return format_time(int(when.timestamp() * 1_000_000))


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What ``veil audit search`` and ``veil report`` select; every criterion given must hold."""

    identity: str | None = None
    table: str | None = None
    data_type: str | None = None
    event: str | None = None
    since: str | None = None
    until: str | None = None

    def matches(self, body: dict[str, Any]) -> bool:
        when = str(body.get("time", ""))
        if self.since and when < self.since:
            return False
        if self.until and when >= self.until:
            return False
        if self.event and body.get("type") != self.event:
            return False
        if self.identity and self.identity not in _subjects(body):
            return False
        if self.table and not any(t == self.table or t.endswith("." + self.table) for t in tables_of(body)):
            return False
        return not (self.data_type and self.data_type not in types_of(body))


def _subjects(body: dict[str, Any]) -> set[str]:
    ident = body.get("identity") or {}
    return {str(ident.get("subject", "")), *map(str, ident.get("actor", []))}


def tables_of(body: dict[str, Any]) -> list[str]:
    st = body.get("statement") or {}
    return [*st.get("tables_read", []), *st.get("tables_written", [])]


def types_of(body: dict[str, Any]) -> set[str]:
    """The data types a request reached (masked or not), from its masking provenance."""
    return {str(m["type"]) for m in body.get("masking") or [] if m.get("type")}


def decoded(events: Iterable[StoredEvent]) -> Iterator[tuple[StoredEvent, dict[str, Any]]]:
    for e in events:
        try:
            yield e, decode(e.data)
        except ValueError:
            continue  # verify reports broken events; readers skip them


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Everything an auditor needs to check one event against a signed checkpoint, offline."""

    origin: str
    seq: int
    event_id: str
    event: bytes  # the canonical bytes
    tree_size: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note

    def as_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "seq": self.seq, "event_id": self.event_id, "leaf_index": self.seq - 1,
                "event": base64.b64encode(self.event).decode(), "tree_size": self.tree_size,
                "proof": [p.hex() for p in self.proof], "checkpoint": self.checkpoint}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InclusionProof:
        return cls(str(d["origin"]), int(d["seq"]), str(d["event_id"]), base64.b64decode(d["event"]),
                   int(d["tree_size"]), tuple(bytes.fromhex(p) for p in d["proof"]), str(d["checkpoint"]))


def build_proof(origin: str, events: Sequence[StoredEvent], notes: Sequence[str], event_id: str
                ) -> InclusionProof:
    """An inclusion proof of ``event_id`` against the latest checkpoint covering it."""
    index = next((i for i, e in enumerate(events) if e.event_id == event_id), None)
    if index is None:
        raise LookupError(f"no event {event_id} in {origin}")
    covering = [(parse_note(t), t) for t in notes]
    covering = [(n, t) for n, t in covering if n.checkpoint.size > index]
    if not covering:
        raise LookupError(f"event {event_id} is not covered by a checkpoint yet")
    note, text = max(covering, key=lambda nt: nt[0].checkpoint.size)
    leaves = [leaf_hash(e.data) for e in events[:note.checkpoint.size]]
    event = events[index]
    return InclusionProof(origin, event.seq, event.event_id, event.data, note.checkpoint.size,
                          tuple(inclusion_proof(index, leaves)), text)


def check_proof(proof: InclusionProof, verifiers: Sequence[Verifier]) -> None:
    """Raise ``AuditIntegrityError`` unless the event is in the tree the trusted checkpoint signed."""
    note = parse_note(proof.checkpoint)
    if not any(v.verify(note) for v in verifiers):
        raise AuditIntegrityError("the proof's checkpoint has no valid signature of a trusted key")
    cp = note.checkpoint
    if cp.origin != proof.origin or cp.size != proof.tree_size:
        raise AuditIntegrityError("the proof's checkpoint is for another log or size")
    body = decode(proof.event)
    if body.get("seq") != proof.seq or body.get("id") != proof.event_id:
        raise AuditIntegrityError("the proof's event is not the one it names")
    verify_inclusion(proof.seq - 1, cp.size, leaf_hash(proof.event), proof.proof, cp.root)
