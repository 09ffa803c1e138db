"""The one execution path for front ends that run statements themselves (MCP, HTTP).

Every call takes the same steps as a statement on the wire, in the same order:
Session -> ``pipeline.authorize`` -> upstream execute (read-only, timeouts and row
caps from the decision) -> ``plan_mask`` + ``mask_row`` per row -> ``finish`` in a
``finally``, exactly once, whether the request was allowed, refused or failed.
Rows are masked from the raw text values PostgreSQL sent, so the values an agent
sees are the ones a psql user under the same policy would see.

Refusals raise :class:`Refused` carrying the message a psql user gets; upstream
failures raise :class:`~veil.upstream.pool.QueryFailed`.  Front ends turn them
into MCP tool errors or HTTP 403/400 answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.postgres import types as builtin_types

from veil.config import Settings
from veil.errors import PolicyDenied
from veil.pipeline.hooks import Confirmation, Frontend, Pipeline, Request, RowMasker, Session
from veil.pipeline.metrics import Metrics
from veil.sql import strip_reason_comment
from veil.upstream.pool import Param, QueryFailed, QueryResult, UpstreamPool
from veil.values import ColumnInfo, Decision, Identity

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 1000
HARD_MAX_ROWS = 100_000

# Text-format values that map losslessly onto JSON scalars; everything else stays a string.
_INT_OIDS = frozenset({20, 21, 23, 26})  # int8, int2, int4, oid
_FLOAT_OIDS = frozenset({700, 701})
_BOOL_OID = 16


class Refused(PolicyDenied):
    """The policy refused the request; the message is the one a psql user would get."""


def refusal_message(decision: Decision) -> str:
    """The wire front end's ErrorResponse text for a refused statement, word for word."""
    reasons = "; ".join(decision.reasons) or "not allowed"
    return f"veil: refused by policy {decision.policy or '(no matching policy)'}: {reasons}"


@dataclass(slots=True)
class Answer:
    """A finished query: JSON-ready columns, rows and the per-column masking summary."""

    columns: list[dict[str, Any]]
    rows: list[list[Any]]
    masking: list[dict[str, Any]]
    command: str
    truncated: bool

    def as_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "row_count": len(self.rows),
                "truncated": self.truncated, "command": self.command, "masking": self.masking}


class AgentService:
    """Runs agent and API requests through the pipeline and the pooled upstream.

    Sessions, decisions, masked values and audit events are counted by the pipeline
    (the same counters as the wire's); this service only times the upstream, the one
    step the pipeline does not see.  Pass the pipeline's ``Metrics`` to share them.
    """

    def __init__(self, pipeline: Pipeline, pool: UpstreamPool, *, metrics: Metrics | None = None,
                 default_max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.pipeline = pipeline
        self.pool = pool
        self.metrics = metrics or Metrics()
        self.default_max_rows = default_max_rows

    @classmethod
    def from_settings(cls, settings: Settings, pipeline: Pipeline, *, metrics: Metrics | None = None,
                      max_connections: int = 8) -> AgentService:
        """A service over a pool to ``upstream.postgres`` (connections open lazily, on first use)."""
        pool = UpstreamPool(settings.upstream.postgres, max_size=max_connections,
                            connect_timeout=settings.upstream.connect_timeout)
        return cls(pipeline, pool, metrics=metrics)

    # -- sessions ------------------------------------------------------------------------
    def open_session(self, identity: Identity, frontend: Frontend, *, client_addr: str = "",
                     tls: bool = False, application_name: str = "", reason: str | None = None) -> Session:
        session = Session(identity=identity, frontend=frontend, client_addr=client_addr, tls=tls,
                          application_name=application_name, reason=(reason or "").strip() or None)
        self.pipeline.open_session(session)
        return session

    def close_session(self, session: Session) -> None:
        self.pipeline.close_session(session)

    def auth_failed(self, frontend: Frontend, claimed: str, *, client_addr: str, tls: bool, why: str) -> None:
        """Report a refused credential to the pipeline (audit, metrics), as the wire front end does."""
        session = Session(identity=Identity(subject=claimed), frontend=frontend, client_addr=client_addr,
                          tls=tls)
        try:
            self.pipeline.auth_failed(session, why)
        except Exception as exc:  # the caller still gets its 401
            log.error("veil: recording a failed login failed: %s", type(exc).__name__)

    @contextlib.contextmanager
    def metadata_call(self, session: Session, tool: str, target: str | None = None) -> Iterator[Request]:
        """Audit a catalog call (``list_tables``, ``describe_table``) as one request, like any query.

        It reads only the system catalogs through the caller's policy filter; the trail records
        who looked at which table names, allowed or failed, exactly once (``finally``).
        """
        request = Request(session, f"/* {tool} */ SELECT 1", protocol=session.frontend, tool=tool)
        request.decision = Decision(allowed=True, policy=None, access="read-only",
                                    reasons=(f"catalog metadata ({tool}{': ' + target if target else ''})",),
                                    rule_ids=("catalog-metadata",))
        try:
            yield request
        except BaseException:
            request.outcome.status = "error"
            raise
        finally:
            self._finish(request)

    # -- requests ------------------------------------------------------------------------
    async def query(self, session: Session, sql: str, *, reason: str | None = None,
                    max_rows: int | None = None, params: Sequence[Param] = (),
                    tool: str = "query") -> Answer:
        """Authorize, execute, mask and audit one statement."""
        request = self._request(session, sql, reason, tool)
        try:
            decision = self._authorize(request)
            result = await self._execute(request, decision, params, max_rows)
            answer = self._mask(request, result)
            request.outcome.rows = len(answer.rows)
            request.outcome.bytes = result.bytes
        except Refused:
            request.outcome.status = "refused"
            raise
        except QueryFailed as exc:
            request.outcome.status = "error"
            request.outcome.sqlstate = exc.sqlstate
            raise self._masked_error(session, exc) from None
        except BaseException:
            request.outcome.status = "error"
            request.outcome.sqlstate = request.outcome.sqlstate or "XX000"
            raise
        finally:
            confirmation = self._finish(request)
        await self._confirmed(confirmation)
        return answer

    async def _confirmed(self, confirmation: Confirmation | None) -> None:
        """audit.confirm: the rows go out only once the request's event is stored."""
        if confirmation is None:
            return
        try:
            await asyncio.wait_for(asyncio.wrap_future(confirmation), self.pipeline.confirm_timeout)
        except Exception:
            log.error("veil: a request's audit event was not stored: result withheld")
            raise QueryFailed("veil: the audit trail could not record this statement; its result is withheld",
                              sqlstate="58000") from None

    def explain(self, session: Session, sql: str, *, reason: str | None = None) -> dict[str, Any]:
        """What the policy decides for ``sql`` and why, without running it (audited as a request)."""
        request = self._request(session, sql, reason, "explain")
        try:
            try:
                self._authorize(request)
            except Refused:
                request.outcome.status = "refused"
            except BaseException:
                request.outcome.status = "error"
                raise
            assert request.decision is not None  # _authorize always leaves the decision behind
            return explanation(request, request.decision)
        finally:
            self._finish(request)

    def _request(self, session: Session, sql: str, reason: str | None, tool: str) -> Request:
        comment_reason = None
        if sql.lstrip().startswith("/*"):
            comment_reason, sql = strip_reason_comment(sql)
        reason = (reason or "").strip() or comment_reason
        return Request(session, sql, protocol=session.frontend, reason=reason, tool=tool)

    def _authorize(self, request: Request) -> Decision:
        start = time.perf_counter()
        try:
            decision = self.pipeline.authorize(request)
        except PolicyDenied as exc:
            request.outcome.sqlstate = exc.sqlstate
            request.decision = request.decision or Decision(
                allowed=False, policy=exc.policy, rule_ids=(exc.rule,) if exc.rule else (),
                reasons=(str(exc),), sqlstate=exc.sqlstate)
            raise Refused(f"veil: refused by policy {exc.policy or '(none)'}: {exc}", policy=exc.policy,
                          rule=exc.rule, sqlstate=exc.sqlstate) from None
        finally:
            request.outcome.durations_ms["authorize"] = (time.perf_counter() - start) * 1000
        request.decision = decision
        if not decision.allowed:
            request.outcome.sqlstate = decision.sqlstate or "42501"
            raise Refused(refusal_message(decision), policy=decision.policy,
                          rule=decision.rule_ids[0] if decision.rule_ids else None,
                          sqlstate=decision.sqlstate or "42501")
        return decision

    async def _execute(self, request: Request, decision: Decision, params: Sequence[Param],
                       max_rows: int | None) -> QueryResult:
        asked = max_rows if max_rows is not None else self.default_max_rows  # the caller may ask for more
        caps = [c for c in (decision.max_rows, asked, HARD_MAX_ROWS) if c is not None and c >= 0]
        settings = self.pipeline.upstream_parameters(request.session)
        start = time.perf_counter()
        try:
            with self.metrics.timed("upstream"):
                return await self.pool.execute(
                    request.sql, params, settings=settings, read_only=decision.access == "read-only",
                    statement_timeout_ms=decision.statement_timeout_ms, max_rows=min(caps),
                    max_bytes=decision.max_bytes)
        finally:
            request.outcome.durations_ms["upstream"] = (time.perf_counter() - start) * 1000

    def _mask(self, request: Request, result: QueryResult) -> Answer:
        start = time.perf_counter()
        masker: RowMasker | None = None
        if result.columns:
            masker = self.pipeline.plan_mask(request, result.columns)
        rows = result.rows
        if masker is not None:
            request.maskers.append(masker)
            rows = [masker.mask_row(row) for row in rows]
        provenance = masker.provenance() if masker is not None else []
        # The masker stays on request.maskers (as on the wire), where finish() reads provenance from;
        # copying it into outcome.masking too would count every masked value twice in the audit.
        request.outcome.durations_ms["mask"] = (time.perf_counter() - start) * 1000
        return Answer(
            columns=[{"name": c.name, "type": type_name(c.type_oid), "type_oid": c.type_oid}
                     for c in result.columns],
            rows=[[json_value(c, v) for c, v in zip(result.columns, row, strict=True)] for row in rows],
            masking=[{"column": p.column, "type": p.type, "method": p.method, "key_id": p.key_id,
                      "count": p.count, "source": p.source} for p in provenance if p.method != "none"],
            command=result.command, truncated=result.truncated)

    def _masked_error(self, session: Session, exc: QueryFailed) -> QueryFailed:
        """The upstream's error with its texts masked by the pipeline, as the wire front end sends it."""
        try:
            fields = self.pipeline.mask_fields(session, exc.fields)
        except Exception:  # unmaskable text is withheld, never shown raw
            fields = {k: v for k, v in exc.fields.items() if k in ("S", "C")}
            fields["M"] = "veil: an error occurred (its text could not be masked)"
        return QueryFailed(fields.get("M", ""), sqlstate=exc.sqlstate, fields=fields)

    def _finish(self, request: Request) -> Confirmation | None:
        return self.pipeline.finish(request)


def type_name(oid: int) -> str | None:
    """PostgreSQL's name of a built-in type (``int4``, ``text``); None for extension and user types."""
    info = builtin_types.get(oid)
    return info.name if info is not None else None


def json_value(column: ColumnInfo, raw: bytes | None) -> Any:
    """A text-format value as JSON: integers, floats and booleans as such, the rest as text."""
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        if column.type_oid in _INT_OIDS:
            return int(text)
        if column.type_oid in _FLOAT_OIDS and text not in ("NaN", "Infinity", "-Infinity"):
            return float(text)
    except ValueError:
        return text
    if column.type_oid == _BOOL_OID:
        return text == "t"
    return text


def explanation(request: Request, decision: Decision) -> dict[str, Any]:
    """The decision and statement analysis as JSON (what ``veil policy explain`` shows)."""
    stmt = request.statement
    return {
        "allowed": decision.allowed,
        "policy": decision.policy,
        "access": decision.access,
        "reasons": list(decision.reasons),
        "rules": list(decision.rule_ids),
        "message": None if decision.allowed else refusal_message(decision),
        "statement": None if stmt is None else {
            "kind": str(stmt.kind), "command": stmt.command, "normalized": stmt.normalized,
            "tables_read": sorted(stmt.tables_read), "tables_written": sorted(stmt.tables_written),
            "columns_read": sorted(stmt.columns_read), "functions": sorted(stmt.functions)},
        "masking": {k: v for k, v in decision.mask},
        "limits": {"max_rows": decision.max_rows, "max_bytes": decision.max_bytes,
                   "statement_timeout_ms": decision.statement_timeout_ms},
        "reason": request.effective_reason,
    }
