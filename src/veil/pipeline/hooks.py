"""The interception points of the one path, as a small protocol.

Guarantees a front end gives (and the tests hold it to):

* ``open_session`` once after a successful login, ``close_session`` once at the end,
  even when the client or the upstream vanished.
* For every request (a simple Query, an extended-protocol statement from Parse/Bind
  to its Execute completion, a FunctionCall, an MCP/HTTP call): ``authorize`` exactly
  once before anything reaches the database, and ``finish`` exactly once afterwards,
  whether the request was allowed, refused or failed (``finally``).
* ``plan_mask`` once per result shape (RowDescription, or the statement's remembered
  description when a prepared statement is re-executed); the returned ``RowMasker``
  is applied to every DataRow of that result.  ``None`` means "forward untouched".
* Error, notice and notification texts pass through ``mask_fields`` /
  ``mask_notification`` before they reach the client.
* When ``finish`` returns a ``Confirmation`` (``audit.confirm``), the front end holds the
  end of that request's result (ReadyForQuery, the HTTP/MCP answer) until it completes,
  and fails the session or call instead of releasing it when it fails or times out.

A pipeline method that raises ``PolicyDenied`` refuses the request; any other
exception from masking fails the request closed (the rows are not sent).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Literal, Protocol

from veil.errors import MaskingError
from veil.values import ColumnInfo, Decision, Identity, MaskProvenance, Outcome, StatementInfo
from veil.wire.pg.readers import data_row_values
from veil.wire.pg.writers import data_row

Frontend = Literal["pg", "mcp", "http", "cli"]
#: completes when the request's audit event is stored (set from the audit writer's thread)
Confirmation = Future[None]


@dataclass(slots=True)
class Session:
    """One client session (a wire connection, an MCP session, an HTTP caller)."""

    identity: Identity
    frontend: Frontend = "pg"
    client_addr: str = ""
    application_name: str = ""
    database: str = ""
    tls: bool = False
    reason: str | None = None  # latest session reason (startup veil.reason or SET veil.reason)
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.time)


@dataclass(slots=True)
class Request:
    """One request flowing through the pipeline; ``outcome`` is filled as it runs."""

    session: Session
    sql: str
    protocol: str = "simple"  # simple | extended | function-call | copy | mcp | http
    reason: str | None = None  # per-statement reason (leading comment) overrides the session's
    tool: str | None = None  # MCP tool or HTTP route
    statement: StatementInfo | None = None
    decision: Decision | None = None
    outcome: Outcome = field(default_factory=Outcome)
    started_ns: int = field(default_factory=time.perf_counter_ns)
    # RowMaskers planned for this request's results; the pipeline reads their provenance in finish().
    maskers: list[RowMasker] = field(default_factory=list)

    @property
    def effective_reason(self) -> str | None:
        return self.reason if self.reason is not None else self.session.reason

    def provenance(self) -> list[MaskProvenance]:
        """What was masked: the outcome's records plus those of the RowMaskers still attached
        (``finish`` folds the maskers' into the outcome once, so metrics and audit agree)."""
        return [*self.outcome.masking, *(p for m in self.maskers for p in m.provenance())]


class RowMasker(Protocol):
    """Masks the rows of one result shape.  Built once, applied per row.

    A masker may also offer ``mask_data_row(message: bytes) -> bytes``: the whole DataRow
    message in, the client's message out, without splitting untouched fields (the relay's
    fast path; ``PlannedRowMasker`` and the capped wrapper have it).  The pg front end uses
    it when present and falls back to ``mask_row`` on the split values otherwise; both must
    fail closed the same way.
    """

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        """Return the masked column values (same count; None stays None)."""
        ...

    def provenance(self) -> list[MaskProvenance]:
        """Per-column record of what was masked, how, and how often (for the audit)."""
        ...


def row_rewriter(masker: RowMasker) -> Callable[[bytes], bytes]:
    """How one whole DataRow message goes through ``masker``, decided once per result.

    The masker's own ``mask_data_row`` when it has one (no split of untouched fields);
    otherwise split, ``mask_row``, re-encode.  Both raise on a malformed row, and a masker
    that changes the number of values is a ``MaskingError``: the caller fails closed.
    """
    fast: Callable[[bytes], bytes] | None = getattr(masker, "mask_data_row", None)
    if fast is not None:
        return fast

    def through_values(message: bytes) -> bytes:
        values = data_row_values(message)
        masked = masker.mask_row(values)
        if len(masked) != len(values):
            raise MaskingError("a masker changed the number of columns")
        return data_row(masked)

    return through_values


class CopyMasker(Protocol):
    """Masks the CopyData payloads of one COPY TO STDOUT (the server sends one row per payload)."""

    def mask_copy(self, data: bytes) -> bytes: ...


class Pipeline(Protocol):
    """What a front end calls; see the module docstring for the guarantees."""

    def open_session(self, session: Session) -> None: ...

    def auth_failed(self, session: Session, why: str) -> None:
        """A login failed: ``session.identity.subject`` is the *claimed* name, ``why`` value-free."""
        ...

    def upstream_parameters(self, session: Session) -> dict[str, str]:
        """Extra startup parameters for this session's upstream connection.

        E.g. ``{"default_transaction_read_only": "on"}`` for a read-only identity, so the
        server enforces what the parser decided.  Called once, before the upstream login.
        """
        ...

    def authorize(self, request: Request) -> Decision: ...

    def plan_mask(self, request: Request, columns: Sequence[ColumnInfo]) -> RowMasker | None: ...

    def plan_copy(self, request: Request, fmt: int) -> CopyMasker | None:
        """How to mask a COPY TO STDOUT stream (``fmt`` from CopyOutResponse); None = forward untouched.

        Raises (e.g. ``PolicyDenied``) when the stream cannot be masked: the COPY then fails closed.
        """
        ...

    def mask_fields(self, session: Session, fields: Mapping[str, str]) -> dict[str, str]: ...

    def mask_notification(self, session: Session, channel: str, payload: str) -> str: ...

    def finish(self, request: Request) -> Confirmation | None:
        """Record the request; a ``Confirmation`` to wait for before its result is released, or None."""
        ...

    @property
    def confirm_timeout(self) -> float:
        """How long a front end waits for a ``Confirmation`` before failing the session."""
        ...

    def close_session(self, session: Session) -> None: ...


class PassThroughPipeline:
    """Allows everything and masks nothing: the proxy's behaviour before policy lands.

    Used by tests of the bare relay and by benchmarks that measure relay cost alone.
    """

    def open_session(self, session: Session) -> None:
        return None

    def auth_failed(self, session: Session, why: str) -> None:
        return None

    def upstream_parameters(self, session: Session) -> dict[str, str]:
        return {}

    def authorize(self, request: Request) -> Decision:
        return Decision(allowed=True, policy=None, access="read-write", reasons=("pass-through",))

    def plan_mask(self, request: Request, columns: Sequence[ColumnInfo]) -> RowMasker | None:
        return None

    def plan_copy(self, request: Request, fmt: int) -> CopyMasker | None:
        return None

    def mask_fields(self, session: Session, fields: Mapping[str, str]) -> dict[str, str]:
        return dict(fields)

    def mask_notification(self, session: Session, channel: str, payload: str) -> str:
        return payload

    def finish(self, request: Request) -> Confirmation | None:
        return None

    confirm_timeout = 10.0

    def close_session(self, session: Session) -> None:
        return None
