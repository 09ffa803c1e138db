"""Pure verification of an audit trail: the auditor's side, separate from the writer.

Given one node's events as the store returned them and its signed checkpoint notes,
check that every event is intact (its bytes match its stored leaf hash, its own
sequence number, id, node and time), that the sequence is gap-free and time never
goes back, that every checkpoint carries a valid signature of a trusted key, and
that every checkpoint's root is the root of exactly the stored events up to its
size.  Computing each root from the same leaf list is stronger than checking
consistency proofs between successive checkpoints: it proves every checkpoint
commits to a prefix of this one list.  Checkpoints kept elsewhere (an anchor,
``--trusted-checkpoint``) must match too, which is what exposes a truncated tail.

Nothing here touches a store, a file or a clock: the CLI reads, this module judges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from veil.audit.checkpoint import SignedNote, Verifier, parse_note
from veil.audit.record import StoredEvent, origin_for
from veil.audit.tree import CompactTree, leaf_hash
from veil.errors import AuditIntegrityError


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong with a trail: which event (by sequence number and id) and why."""

    message: str
    seq: int | None = None
    event_id: str | None = None
    unsigned_tail: bool = False  # only "the newest events are not signed yet": a live writer signs them soon

    def __str__(self) -> str:
        where = ""
        if self.seq is not None:
            where = f"event seq {self.seq}" + (f" (id {self.event_id})" if self.event_id else "") + ": "
        return where + self.message


@dataclass(slots=True)
class VerifyResult:
    origin: str
    events: int = 0
    checkpoints: int = 0
    trusted_checkpoints: int = 0
    covered: int = 0  # events covered by a valid checkpoint
    root: bytes | None = None  # the root of the whole stored trail
    problem: Problem | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, object]:
        return {"origin": self.origin, "ok": self.ok, "events": self.events, "checkpoints": self.checkpoints,
                "trusted_checkpoints": self.trusted_checkpoints, "covered": self.covered,
                "root": self.root.hex() if self.root else None,
                "problem": str(self.problem) if self.problem else None,
                "first_bad_seq": self.problem.seq if self.problem else None,
                "first_bad_event": self.problem.event_id if self.problem else None,
                "warnings": list(self.warnings)}


def verify_log(origin: str, events: Iterable[StoredEvent], notes: Sequence[str],
               verifiers: Sequence[Verifier], *, trusted: Sequence[str] = (),
               allow_open_tail: bool = False) -> VerifyResult:
    """Verify one node's log; the result names the first bad event, never raises for tampering."""
    result = VerifyResult(origin)
    leaves: list[bytes] = []
    ids: list[str] = []
    problem = _check_events(origin, events, leaves, ids)
    result.events = len(leaves)
    parsed, note_problem = _parse_notes(origin, notes, verifiers, ids, "checkpoint")
    result.checkpoints = len(parsed)
    trusted_parsed, trusted_problem = _parse_notes(origin, trusted, verifiers, ids, "trusted checkpoint")
    result.trusted_checkpoints = len(trusted_parsed)
    roots = _roots_at(leaves, {n.checkpoint.size for n in (*parsed, *trusted_parsed)})
    result.root = roots.get(len(leaves))
    root_problem = None
    for kind, group in (("checkpoint", parsed), ("trusted checkpoint", trusted_parsed)):
        prev = 0
        for note in group:
            cp = note.checkpoint
            if cp.size > len(leaves):
                root_problem = root_problem or Problem(
                    f"{kind} covers {cp.size} events but the trail holds {len(leaves)}: events were removed",
                    len(leaves) + 1)
            elif roots[cp.size] != cp.root:
                first = prev + 1
                root_problem = root_problem or Problem(
                    f"events {first}..{cp.size} do not match the signed root of the {kind} at size {cp.size}",
                    first, ids[first - 1] if first <= len(ids) else None)
            elif kind == "checkpoint":
                result.covered = max(result.covered, cp.size)
            prev = cp.size
    candidates = [p for p in (problem, note_problem, trusted_problem, root_problem) if p is not None]
    if not candidates and result.covered < len(leaves):
        first = result.covered + 1
        message = f"{len(leaves) - result.covered} events after the last checkpoint have no signature yet"
        if allow_open_tail:
            result.warnings.append(message)
        else:
            candidates.append(Problem(message, first, ids[first - 1], unsigned_tail=True))
    for note in parsed:
        recovered = note.checkpoint.extension("recovered")
        if recovered:
            result.warnings.append(f"events {recovered} were signed by a restarted writer (after a crash), "
                                   "not as they were written")
    if candidates:
        result.problem = min(candidates, key=lambda p: p.seq if p.seq is not None else 1 << 62)
    return result


def _check_events(origin: str, events: Iterable[StoredEvent], leaves: list[bytes], ids: list[str]
                  ) -> Problem | None:
    seen: set[str] = set()
    last_time = ""
    for e in events:
        expected = len(leaves) + 1
        if e.seq != expected:
            if e.seq > expected:
                return Problem(f"missing: events {expected}..{e.seq - 1} (next stored: id {e.event_id})",
                               expected)
            return Problem(f"sequence number {e.seq} repeats or goes back (expected {expected})",
                           e.seq, e.event_id)
        if e.origin != origin:
            return Problem("event is stored under another log", e.seq, e.event_id)
        computed = leaf_hash(e.data)
        if computed != e.leaf:
            return Problem("event content does not match its stored leaf hash", e.seq, e.event_id)
        try:
            body = json.loads(e.data)
        except (ValueError, RecursionError):  # a tampered event nested past the parser's depth too
            return Problem("event is not valid JSON", e.seq, e.event_id)
        if not isinstance(body, dict):
            return Problem("event is not a JSON object", e.seq, e.event_id)
        if body.get("seq") != e.seq or body.get("id") != e.event_id:
            return Problem("event's own sequence number or id differs from its place", e.seq, e.event_id)
        if origin_for(str(body.get("node"))) != origin:
            return Problem("event names another node", e.seq, e.event_id)
        if e.event_id in seen:
            return Problem("event id appears twice", e.seq, e.event_id)
        when = body.get("time")
        if not isinstance(when, str) or len(when) != 27 or when < last_time:
            return Problem("event time is malformed or earlier than the event before it", e.seq, e.event_id)
        seen.add(e.event_id)
        last_time = when
        leaves.append(computed)
        ids.append(e.event_id)
    return None


def _parse_notes(origin: str, notes: Sequence[str], verifiers: Sequence[Verifier], ids: Sequence[str],
                 kind: str) -> tuple[list[SignedNote], Problem | None]:
    """Parse, check origin and signature; return the good notes by size and the first problem.

    An unsigned (or wrongly signed) checkpoint blames the first event after the
    checkpoint before it: the events it claims to cover cannot be trusted from there on.
    """
    parsed: list[SignedNote] = []
    problem: Problem | None = None
    for text in notes:
        try:
            note = parse_note(text)
        except AuditIntegrityError as exc:
            problem = _earliest(problem, Problem(f"a {kind} is malformed: {exc}", None))
            continue
        if note.checkpoint.origin == origin:  # anchors may hold other nodes' checkpoints
            parsed.append(note)
    parsed.sort(key=lambda n: n.checkpoint.size)
    good: list[SignedNote] = []
    prev = 0
    for note in parsed:
        size = note.checkpoint.size
        if not any(v.verify(note) for v in verifiers):
            first = min(prev + 1, len(ids) + 1)
            problem = _earliest(problem, Problem(
                f"the {kind} at size {size} has no valid signature of a trusted key", first,
                ids[first - 1] if first <= len(ids) else None))
        else:
            good.append(note)
        prev = size
    return good, problem


def _earliest(a: Problem | None, b: Problem) -> Problem:
    if a is None:
        return b
    return b if (b.seq or 1 << 62) < (a.seq or 1 << 62) else a


def _roots_at(leaves: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The root at each wanted size (and at the full size), in one pass."""
    wanted = {s for s in sizes if 0 <= s <= len(leaves)} | {len(leaves)}
    tree = CompactTree()
    roots: dict[int, bytes] = {}
    if 0 in wanted:
        roots[0] = tree.root()
    for leaf in leaves:
        tree.append(leaf)
        if tree.size in wanted:
            roots[tree.size] = tree.root()
    return roots
