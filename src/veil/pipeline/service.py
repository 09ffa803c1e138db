"""``VeilPipeline``: the one path, composed from the authorize, mask and audit services.

Every front end (PostgreSQL wire, MCP, HTTP) calls the same instance, so a psql
user and an agent are held to the same decisions, the same pseudonyms and the same
trail.  The services themselves live beside this module; this class only decides
the order they run in and what happens when one of them fails:

* authorize refuses (a Decision, not an exception) while the audit store is down
  and ``on_store_failure: refuse`` is in force: an unaudited statement must never run;
* plan_mask fills each column's ``schema.table.column`` from the catalog cache (table
  OID and attribute number from RowDescription) before planning, so config tags and
  column-name hints apply to ``SELECT *`` as well as to named columns;
* errors, notices, notifications and COPY rows are masked with the session's policy;
  a session without a matching policy gets everything redacted (fail closed);
* finish always records the request (metrics first: they cannot fail).

It does no I/O of its own: the catalog arrives through an ``execute`` callable that
``app.py`` builds on the upstream driver.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from veil.config import Settings
from veil.errors import AuditStoreUnavailable, PolicyDenied
from veil.mask.copyrows import mask_copy_fields
from veil.pipeline.audit import AuditService
from veil.pipeline.authorize import Authorizer, load_catalog
from veil.pipeline.hooks import Confirmation, CopyMasker, Request, RowMasker, Session, row_rewriter
from veil.pipeline.masking import MaskPlanner
from veil.pipeline.metrics import Metrics
from veil.policy import PolicySet
from veil.sql import InMemoryCatalog
from veil.sql.copy import CopyFormat, copy_format
from veil.values import ColumnInfo, Decision, MaskProvenance
from veil.wire.pg.readers import data_row_values

log = logging.getLogger("veil.pipeline")

Execute = Callable[[str], Iterable[Sequence[Any]]]
TEXT_OID = 25
AUDIT_DOWN_SQLSTATE = "58000"  # system_error: the statement is fine, veil cannot record it now
CAP_SQLSTATE = "54000"  # program_limit_exceeded: the result is larger than the policy allows
_REDACT_ALL = (("default", "redact"),)
_RESOLVED_SHAPES = 1024  # result shapes remembered per catalog load

# table OID -> ("schema.table", {attnum: column}) for the relations a client can read
_RELATIONS_SQL = """
SELECT c.oid::int8, n.nspname, c.relname, a.attnum, a.attname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
"""


class ColumnCatalog:
    """Table OIDs to names, plus the lineage catalog, for the upstream database; reloaded on demand.

    Loading runs the catalog queries through ``execute``; misses reload at most once per
    ``min_interval`` seconds so an unknown OID (a temp table) cannot turn into a query storm.
    """

    def __init__(self, execute: Execute | None, *, min_interval: float = 1.0) -> None:
        self._execute = execute
        self._min_interval = min_interval
        self._relations: dict[int, tuple[str, dict[int, str]]] = {}
        self._lineage = InMemoryCatalog()
        self._loaded_at = float("-inf")
        self._resolved: dict[tuple[ColumnInfo, ...], tuple[ColumnInfo, ...]] = {}
        self._lock = threading.Lock()

    @property
    def lineage(self) -> InMemoryCatalog:
        return self._lineage

    def reload(self, *, force: bool = False) -> bool:
        """Reload from the database; False when rate-limited, unavailable or failing (old data kept)."""
        if self._execute is None:
            return False
        with self._lock:
            now = time.monotonic()
            if not force and now - self._loaded_at < self._min_interval:
                return False
            self._loaded_at = now
            try:
                relations: dict[int, tuple[str, dict[int, str]]] = {}
                for oid, schema, table, attnum, column in self._execute(_RELATIONS_SQL):
                    entry = relations.setdefault(int(oid), (f"{schema}.{table}", {}))
                    entry[1][int(attnum)] = str(column)
                lineage = load_catalog(self._execute)
            except Exception as exc:  # the proxy keeps serving with what it knew
                log.warning("veil: catalog reload failed (%s); keeping the previous catalog",
                            type(exc).__name__)
                return False
            self._relations, self._lineage = relations, lineage
            self._resolved = {}
            return True

    def resolve(self, columns: Sequence[ColumnInfo]) -> list[ColumnInfo]:
        """``columns`` with ``table``/``column`` filled where the OID is a known relation.

        Sessions repeat a few result shapes, so fully resolved shapes are remembered until
        the next reload; a shape with an unknown OID is not, so it is retried after a reload.
        """
        shape = tuple(columns)
        found_shape = self._resolved.get(shape)
        if found_shape is not None:
            return list(found_shape)
        if any(c.table_oid and c.table_oid not in self._relations for c in columns):
            self.reload()
        relations = self._relations
        out = []
        for col in columns:
            found = relations.get(col.table_oid) if col.table_oid else None
            name = found[1].get(col.attnum) if found is not None else None
            out.append(replace(col, table=found[0], column=name) if found and name else col)
        if all(not c.table_oid or c.table_oid in relations for c in columns):
            if len(self._resolved) >= _RESOLVED_SHAPES:
                self._resolved.clear()
            self._resolved[shape] = tuple(out)
        return out


class ResultCap:
    """Counts one statement's rows and bytes against the policy's ``max_rows``/``max_bytes``.

    Raising at the cap ends the statement with an error after the rows already sent (results
    stream; nothing is buffered), so memory stays flat whatever the result size.
    """

    def __init__(self, decision: Decision) -> None:
        self.max_rows = decision.max_rows
        self.max_bytes = decision.max_bytes
        self.policy = decision.policy
        self.rows = 0
        self.bytes = 0

    @staticmethod
    def needed(decision: Decision) -> bool:
        return bool(decision.max_rows or decision.max_bytes)

    def count(self, size: int) -> None:
        self.rows += 1
        self.bytes += size
        if self.max_rows and self.rows > self.max_rows:
            raise PolicyDenied(f"the result exceeds max_rows {self.max_rows}; add a LIMIT",
                               policy=self.policy, rule="max-rows", sqlstate=CAP_SQLSTATE)
        if self.max_bytes and self.bytes > self.max_bytes:
            raise PolicyDenied(f"the result exceeds max_bytes {self.max_bytes}; select fewer rows or columns",
                               policy=self.policy, rule="max-bytes", sqlstate=CAP_SQLSTATE)


class _CappedRows:
    """A RowMasker that enforces the caps, then masks with ``inner`` (if any)."""

    def __init__(self, inner: RowMasker | None, cap: ResultCap) -> None:
        self._inner = inner
        self._cap = cap
        self._rewrite = row_rewriter(inner) if inner is not None else None

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        self._cap.count(sum(len(v) for v in values if v is not None))
        return self._inner.mask_row(values) if self._inner is not None else values

    def mask_data_row(self, message: bytes) -> bytes:
        """The relay's splice path (see ``PlannedRowMasker.mask_data_row``) with the caps counted.

        The value bytes of a DataRow are the message less its 7-byte header and one length
        word per value, so the cap needs no split; the row is still parsed (and fails closed
        when malformed) by whichever masker handles it.
        """
        count = int.from_bytes(message[5:7], "big") if len(message) >= 7 else 0
        self._cap.count(len(message) - 7 - 4 * count)
        if self._rewrite is None:
            data_row_values(message)  # nothing to mask, but a malformed row still fails closed
            return message
        return self._rewrite(message)

    def provenance(self) -> list[MaskProvenance]:
        return self._inner.provenance() if self._inner is not None else []


class _CopyRows:
    """A CopyMasker for one COPY TO STDOUT: column-aware where lineage knows the columns.

    With lineage (``COPY t TO STDOUT``, ``COPY (SELECT ...) TO STDOUT``) each field is masked
    as the result column it is, exactly as a SELECT of the same columns would be (tags, name
    hints, value scan); without it every field is scanned.  A CSV header line is passed
    through: it holds column names, not values.
    """

    def __init__(self, planner: MaskPlanner, decision: Decision, layout: CopyFormat,
                 rows: RowMasker | None) -> None:
        self._planner = planner
        self._decision = decision
        self._layout = layout
        self._rows = rows
        self._skip_header = layout.header
        self._masks = not planner.masks_nothing(decision.mask_map())
        self._cap = ResultCap(decision) if ResultCap.needed(decision) else None

    def mask_copy(self, data: bytes) -> bytes:
        layout = self._layout
        if self._skip_header:
            self._skip_header = False
            return data
        if self._cap is not None:
            self._cap.count(len(data))
        if not self._masks:
            return data
        if self._rows is None:
            return self._planner.mask_copy_row(self._decision, data, csv=layout.csv,
                                               delimiter=layout.delimiter, null=layout.null,
                                               quote=layout.quote, escape=layout.escape)
        return mask_copy_fields(data, self._mask_values, csv=layout.csv, delimiter=layout.delimiter,
                                null=layout.null, quote=layout.quote, escape=layout.escape)

    def _mask_values(self, values: list[str | None]) -> list[str | None]:
        assert self._rows is not None
        raw = [None if v is None else v.encode("utf-8") for v in values]
        return [None if v is None else v.decode("utf-8") for v in self._rows.mask_row(raw)]


class VeilPipeline:
    """The composed pipeline; see the module docstring for the order and the failure rules."""

    def __init__(self, settings: Settings, *, execute: Execute | None = None,
                 metrics: Metrics | None = None, audit: AuditService | None = None,
                 planner: MaskPlanner | None = None) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else Metrics()
        self.policies = PolicySet.from_settings(settings)
        self.catalog = ColumnCatalog(execute)
        self.catalog.reload(force=True)
        self.authorizer = Authorizer(self.policies, catalog=self.catalog.lineage,
                                     column_tags=settings.columns)
        self.planner = planner if planner is not None else MaskPlanner.from_settings(settings)
        self.audit = audit if audit is not None else AuditService.from_settings(
            settings, mask_engine=self.planner.engine)

    # -- lifecycle ----------------------------------------------------------------------
    def reconfigure(self, settings: Settings) -> None:
        """Use a reloaded (already validated) config from the next statement on; audited."""
        policies = PolicySet.from_settings(settings)  # raises on an invalid config: nothing swapped yet
        old = self.policies.digest
        self.settings = settings
        self.policies = policies
        self.authorizer.set_policies(policies)
        self.authorizer.column_tags = dict(settings.columns)
        self.planner.column_tags = dict(settings.columns)
        if old != self.policies.digest:
            self.audit.record_event("policy_change", details={"from": old, "to": self.policies.digest})

    def close(self) -> None:
        self.audit.close()

    # -- sessions -----------------------------------------------------------------------
    def open_session(self, session: Session) -> None:
        self.metrics.session_opened(session.frontend)
        self.audit.record_session(session, "connect", reason=session.reason)

    def close_session(self, session: Session) -> None:
        self.metrics.session_closed(session.frontend)
        self.authorizer.forget_session(session)
        self.audit.record_session(session, "disconnect", duration_s=round(time.time() - session.started, 3))

    def auth_failed(self, session: Session, why: str) -> None:
        """A failed login (``session.identity`` carries the claimed name only); ``why`` is value-free."""
        self.metrics.auth_failed(session.frontend)
        self.audit.record_session(session, "auth_failure", why=why)

    def upstream_parameters(self, session: Session) -> dict[str, str]:
        policy = self.policies.match(session.identity, client_addr=session.client_addr)
        if policy is None:
            return {"default_transaction_read_only": "on"}
        params: dict[str, str] = {}
        if policy.access != "read-write":
            params["default_transaction_read_only"] = "on"
        if policy.statement_timeout_ms:
            params["statement_timeout"] = str(policy.statement_timeout_ms)
        return params

    def session_decision(self, session: Session) -> Decision:
        """The mask map for texts outside a result (errors, notices, notifications)."""
        policy = self.policies.match(session.identity, client_addr=session.client_addr)
        if policy is None:
            return Decision(allowed=False, policy=None, mask=_REDACT_ALL)
        return Decision(allowed=True, policy=policy.name, access=policy.access,
                        mask=tuple(policy.mask.items()))

    # -- requests -----------------------------------------------------------------------
    def authorize(self, request: Request) -> Decision:
        with self.metrics.timed("authorize"):
            try:
                self.audit.ensure_available()
            except AuditStoreUnavailable as exc:
                decision = Decision(allowed=False, policy=None, reasons=(str(exc),),
                                    rule_ids=("audit-store",), sqlstate=AUDIT_DOWN_SQLSTATE)
                request.decision = decision
                return decision
            if self.authorizer.catalog_stale and self.catalog.reload():
                self.authorizer.set_catalog(self.catalog.lineage)
            return self.authorizer.authorize(request)

    def plan_mask(self, request: Request, columns: Sequence[ColumnInfo]) -> RowMasker | None:
        decision = request.decision or self.session_decision(request.session)
        if self.planner.masks_nothing(decision.mask_map()):
            # nothing can be masked for this identity: no catalog lookup, lineage or plan
            return _CappedRows(None, ResultCap(decision)) if ResultCap.needed(decision) else None
        with self.metrics.timed("mask"):
            resolved = self.catalog.resolve(columns)
            lineage = self.authorizer.lineage_for(request, resolved)
            masker = self.planner.plan(decision, resolved, lineage=lineage)  # type: ignore[arg-type]
        if ResultCap.needed(decision):
            return _CappedRows(masker, ResultCap(decision))
        return masker

    def plan_copy(self, request: Request, fmt: int) -> CopyMasker | None:
        """How to mask a COPY TO STDOUT stream; raises (fail closed) for binary COPY that needs masking."""
        decision = request.decision or self.session_decision(request.session)
        masks = not self.planner.masks_nothing(decision.mask_map())
        if not masks and not ResultCap.needed(decision):
            return None
        layout = copy_format(request.sql) or CopyFormat()
        if masks and (fmt != 0 or layout.format == "binary"):
            raise PolicyDenied("binary COPY cannot be masked; use COPY ... TO STDOUT in text or CSV format",
                               policy=decision.policy, rule="copy-binary")
        rows = self._copy_row_masker(request, decision) if masks else None
        if rows is not None:
            request.maskers.append(rows)
        return _CopyRows(self.planner, decision, layout, rows)

    def _copy_row_masker(self, request: Request, decision: Decision) -> RowMasker | None:
        """A RowMasker over the COPY's columns from lineage (all text: COPY sends text), or None."""
        try:
            outputs = [o for o in self.authorizer.columns(request.sql).outputs if o]
        except Exception:  # too complex or unparseable: every field is scanned instead
            return None
        if len(outputs) != 1 or not all(o.complete for o in outputs[0]):
            return None  # the columns are not known for sure: positions could be wrong, so scan
        columns = []
        for out in outputs[0]:
            table = column = None
            if out.transform == "identity" and len(out.sources) == 1:
                table, _, column = next(iter(out.sources)).rpartition(".")
            columns.append(ColumnInfo(name=out.name, type_oid=TEXT_OID, table=table or None, column=column))
        return self.planner.plan(decision, columns, lineage=outputs[0])  # type: ignore[arg-type]

    def mask_fields(self, session: Session, fields: Mapping[str, str]) -> dict[str, str]:
        return self.planner.mask_fields(self.session_decision(session), fields)

    def mask_notification(self, session: Session, channel: str, payload: str) -> str:
        return self.planner.mask_notification(self.session_decision(session), payload)

    def finish(self, request: Request) -> Confirmation | None:
        """Record the request; with ``audit.confirm`` a future the front end holds the result on."""
        # Provenance once per request: metrics and the audit event both read it from the outcome.
        if request.maskers:
            request.outcome.masking[:] = request.provenance()
            request.maskers.clear()
        self.metrics.request_finished(request)
        try:
            receipt = self.audit.record_request(request)
        except Exception as exc:
            self.metrics.audit_recorded(ok=False)
            if not self.audit.confirm:
                raise
            failed: Confirmation = Confirmation()  # unrecorded: the result must not be released
            failed.set_exception(exc)
            return failed
        self.metrics.audit_recorded(ok=True)
        return self.audit.writer.durable(receipt.seq) if self.audit.confirm else None

    @property
    def confirm_timeout(self) -> float:
        return self.audit.confirm_timeout
