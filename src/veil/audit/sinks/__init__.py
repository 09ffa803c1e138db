"""Audit stores: where events and signed checkpoints are kept.

Every store implements ``Sink``: synchronous, called from the writer's one
background thread (never from the event loop).  ``append`` is all-or-nothing and
durable when it returns; a store that cannot be reached raises
``AuditStoreUnavailable`` so the writer can refuse or spool.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from veil.audit.record import StoredEvent
from veil.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TreeState:
    """What a writer needs to continue a log: the tree edge at the last checkpoint, the leaves after it."""

    frontier: tuple[tuple[int, bytes], ...]
    frontier_size: int
    tail: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return self.frontier_size + len(self.tail)


EMPTY_STATE = TreeState((), 0, ())


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """A signed checkpoint note and the tree edge at that size (unsigned: only the writer uses it)."""

    size: int
    note: str
    frontier: tuple[tuple[int, bytes], ...] = ()


class Sink(Protocol):
    description: str  # for messages: the store URL without credentials

    def open(self) -> None:
        """Connect and create the schema if needed; ``AuditStoreUnavailable`` when unreachable."""
        ...

    def state(self, origin: str) -> TreeState: ...

    def append(self, origin: str, events: Sequence[StoredEvent], notes: Sequence[NoteRecord]) -> None: ...

    def lease(self, origin: str, holder: str, ttl: float, *, release: bool = False) -> bool:
        """Take or renew the right to append to ``origin`` for ``ttl`` seconds (False: another holder
        has it); with ``release`` give it up.  One writer per origin keeps sequence numbers unique."""
        ...

    def idle(self) -> None:
        """Called about once a second when there is nothing to write (spool forwarding, keep-alives)."""
        ...

    def remember(self, origin: str, state: TreeState) -> None:
        """Called at a clean close with where ``origin``'s log ends (all stored and checkpointed).

        Only a spool keeps it, so a node can start while its store is down; stores that are
        their own record of where the log ends do nothing."""
        ...

    def origins(self) -> list[str]: ...

    def events(self, origin: str, start_seq: int = 1) -> Iterator[StoredEvent]:
        """Events in stored order (by sequence number), exactly as stored: no checks here."""
        ...

    def notes(self, origin: str) -> list[str]: ...

    def close(self) -> None: ...


def redact_url(url: str) -> str:
    """A store URL fit for messages: the password removed."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def open_sink(url: str, *, base_dir: Path | None = None, readonly: bool = False) -> Sink:
    """The store for an ``audit.store`` URL (``sqlite:///path``, ``postgresql://...``, ``nats://h:p/STREAM``)."""
    if url.startswith("sqlite://"):
        from veil.audit.sinks.sqlite import SqliteSink

        path = Path(url[len("sqlite://"):].removeprefix("/")) if url.startswith("sqlite:///") else None
        if path is None:
            raise ConfigError("sqlite store URLs look like sqlite:///relative/path or sqlite:////abs/path",
                              key="audit.store")
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return SqliteSink(path, readonly=readonly)
    if url.startswith(("postgresql://", "postgres://")):
        from veil.audit.sinks.postgres import PostgresSink

        return PostgresSink(url)
    if url.startswith("nats://"):
        from veil.audit.sinks.nats import NatsSink

        return NatsSink(url)
    raise ConfigError(f"unknown audit store {redact_url(url)!r}", key="audit.store")
