"""Small frozen value types shared by every layer.

They carry no behaviour beyond trivial helpers, so any layer may import them
without pulling in another layer's logic.  Field names are part of the audit
record format: add fields, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Kind = Literal["human", "agent"]
AccessMode = Literal["deny", "read-only", "read-write"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking.

    ``actor`` is the delegation chain from an RFC 8693 ``act`` claim: for an agent
    acting for a human, ``subject`` is the human and ``actor`` holds the agent
    subject(s), outermost first.
    """

    subject: str
    groups: tuple[str, ...] = ()
    kind: Kind = "human"
    source: Literal["static", "jwt", "dev"] = "static"
    actor: tuple[str, ...] = ()
    expires_at: float | None = None  # UNIX time; None for static identities


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """One output column of a result, as RowDescription describes it, plus what we know.

    ``table`` and ``column`` are filled from the catalog when the column comes
    straight from a table (``schema.table``), else None.
    """

    name: str
    type_oid: int
    format: int = 0  # 0 text, 1 binary
    table_oid: int = 0
    attnum: int = 0
    type_modifier: int = -1
    type_size: int = -1
    table: str | None = None  # "schema.table"
    column: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A detection result: ``type`` found at ``[start, end)`` (code points) of a value."""

    type: str
    start: int
    end: int
    score: float
    detector: str
    why: str = ""  # "value", "name", "both", or a short explanation; never the value


class StatementKind(StrEnum):
    """What a statement does. ``UNKNOWN`` is never treated as ``READ``."""

    READ = "read"
    WRITE = "write"
    DDL = "ddl"
    DCL = "dcl"
    TXN = "txn"
    SESSION = "session-setting"
    UTILITY = "utility"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StatementInfo:
    """The analysis of one SQL statement (see veil.sql)."""

    kind: StatementKind
    command: str = ""  # e.g. "SELECT", "INSERT", "COPY", "SET"
    tables_read: frozenset[str] = frozenset()  # "schema.table" where resolvable, else as written
    tables_written: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    columns_read: frozenset[str] = frozenset()  # "schema.table.column"
    normalized: str = ""  # constants replaced by $n
    fingerprint: str = ""
    reasons: tuple[str, ...] = ()  # why it was classified so (e.g. "FOR UPDATE")
    # Added by veil.sql: settings the statement changes (name, literal value or None when
    # reset/computed), and whether the outermost query has a LIMIT/FETCH FIRST.
    settings: tuple[tuple[str, str | None], ...] = ()
    has_limit: bool = False
    statement_count: int = 1  # statements in the same SQL text (> 1: a multi-statement query)


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict for one statement, as data so the audit records exactly why."""

    allowed: bool
    policy: str | None  # name of the matching policy, None if nothing matched
    access: AccessMode = "deny"
    mask: tuple[tuple[str, str], ...] = ()  # (type or category or "default", method)
    rule_ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # human-readable, safe for clients and the audit
    max_rows: int | None = None
    max_bytes: int | None = None
    statement_timeout_ms: int | None = None
    policy_hash: str = ""
    sqlstate: str = "42501"

    def mask_map(self) -> dict[str, str]:
        return dict(self.mask)


@dataclass(frozen=True, slots=True)
class MaskProvenance:
    """How one output column was masked, for the audit record (never a value)."""

    column: str
    type: str | None
    method: str
    key_id: str | None
    count: int = 0
    source: str = ""  # "tag", "lineage", "name", "values", "scan"


@dataclass(slots=True)
class Outcome:
    """What happened to a request; filled in as it runs, recorded by audit."""

    status: Literal["ok", "refused", "error"] = "ok"
    sqlstate: str | None = None
    rows: int = 0
    bytes: int = 0
    masking: list[MaskProvenance] = field(default_factory=list)
    durations_ms: dict[str, float] = field(default_factory=dict)
