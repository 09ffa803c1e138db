"""Audit events built from pipeline objects: what a request or session did, never a value.

``AuditService`` is what the pipeline calls: ``record_request`` once per request in
its ``finally`` and ``record_session`` for connect, auth failure, disconnect and the
like.  It turns ``Session``/``Request`` into a plain event body and hands it to the
``AuditWriter`` (non-blocking: the event loop only pays for encoding).

What is deliberately *not* recorded: SQL text other than the normalized form
(``StatementInfo.normalized`` or ``veil.sql.normalize``; constants become ``$n``),
bind parameters, result values.  The user's reason is free text a user typed, so
it is stored as its length and a keyed hash, plus, when a ``reason_masker`` is
wired (detection + span masking), the masked text.

Wiring (``VeilPipeline``): ``AuditService.from_settings(settings, mask_engine=engine)`` once;
``authorize`` calls ``ensure_available()`` first (refuse before the database is touched when
the store is down); ``finish`` calls ``record_request``; ``open_session``/``close_session``
call ``record_session(session, "connect"|"disconnect")``; a failed login
``record_session(Session(Identity(user)), "auth_failure")``; a policy reload
``record_event("policy_change", details={"digest": settings.digest})``; shutdown ``close()``
(final signed checkpoint).  One-shot commands pass ``command="unmask"`` etc. to
``from_settings`` so they write a log of their own instead of waiting for the server's.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from veil.audit.record import CheckedObject, EventTemplate
from veil.audit.setup import derive_key, load_signer, open_writer
from veil.audit.writer import AuditWriter, Receipt
from veil.config import Settings
from veil.detect import Scanner, default_scanner
from veil.errors import AuditError, AuditStoreUnavailable
from veil.mask.engine import MaskEngine
from veil.pipeline.hooks import Request, Session
from veil.sql import fingerprint as sql_fingerprint
from veil.sql import normalize as sql_normalize
from veil.values import Decision, Identity, MaskProvenance, StatementInfo

T = TypeVar("T")
MAX_TEXT = 200  # application names and the like: metadata, but bounded
MAX_SQL = 20_000
# Members of a request event filled in per request.  The session id and the client (its address
# holds the port) differ per connection, so they are slots too: templates are shared by all the
# connections of an identity, and a churn of short sessions does not build one per session.
REQUEST_VARYING = ("session", "client", "masking", "reason", "outcome", "durations_us", "elapsed_us")
MAX_TEMPLATES = 4096  # event templates kept, oldest dropped first (a few KiB each)


def identity_fields(identity: Identity | None) -> dict[str, Any] | None:
    if identity is None:
        return None
    return {"subject": identity.subject, "groups": sorted(identity.groups), "kind": identity.kind,
            "source": identity.source, "actor": list(identity.actor)}


def session_fields(session: Session,
                   identity: Callable[[Identity | None], dict[str, Any] | None] = identity_fields,
                   client: Callable[[str, str, bool], dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "session": session.session_id,
        "identity": identity(session.identity),
        "client": (client or client_fields)(session.client_addr, session.application_name, session.tls),
        "database": session.database[:MAX_TEXT],
        "frontend": session.frontend,
    }


def client_fields(addr: str, application: str, tls: bool) -> dict[str, Any]:
    return {"addr": addr, "application": application[:MAX_TEXT], "tls": tls}


def statement_fields(statement: StatementInfo | None, sql: str) -> dict[str, Any]:
    """The statement as the trail keeps it: kind, tables, columns, normalized SQL and fingerprint."""
    normalized = statement.normalized if statement is not None and statement.normalized else None
    fp = statement.fingerprint if statement is not None and statement.fingerprint else None
    if normalized is None and sql:
        normalized = sql_normalize(sql)
        fp = fp or sql_fingerprint(sql)
    fields: dict[str, Any] = {"sql": normalized[:MAX_SQL] if normalized else None, "fingerprint": fp}
    if statement is not None:
        fields.update({
            "kind": str(statement.kind), "command": statement.command,
            "tables_read": sorted(statement.tables_read), "tables_written": sorted(statement.tables_written),
            "columns_read": sorted(statement.columns_read), "functions": sorted(statement.functions),
            "classified": list(statement.reasons),
        })
    return fields


def _analyzed_statement_fields(statement: StatementInfo) -> dict[str, Any]:
    return statement_fields(statement, "")


def decision_fields(decision: Decision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {"allowed": decision.allowed, "policy": decision.policy, "access": decision.access,
            "rule_ids": list(decision.rule_ids), "reasons": list(decision.reasons),
            "policy_hash": decision.policy_hash, "mask": [list(pair) for pair in decision.mask]}


def masking_fields(provenance: Iterable[MaskProvenance]) -> list[dict[str, Any]]:
    """Per output column: type, method, key id, count, how the type was found (summed over results)."""
    merged: dict[tuple[str, str | None, str, str | None, str], int] = {}
    for p in provenance:
        key = (p.column, p.type, p.method, p.key_id, p.source)
        merged[key] = merged.get(key, 0) + p.count
    return [{"column": c, "type": t, "method": m, "key_id": k, "source": s, "count": n}
            for (c, t, m, k, s), n in merged.items()]


def _checked(build: Callable[[T], dict[str, Any] | None]) -> Callable[[T], CheckedObject | None]:
    """``build`` whose result is validated once and frozen, for the fragment caches."""
    def checked(value: T) -> CheckedObject | None:
        fields = build(value)
        return None if fields is None else CheckedObject(fields)
    return checked


class AuditService:
    """Builds events from pipeline objects and records them through one ``AuditWriter``."""

    def __init__(self, writer: AuditWriter, *, reason_key: bytes,
                 reason_masker: Callable[[str], str] | None = None, confirm: bool = False,
                 confirm_timeout: float = 10.0) -> None:
        self.writer = writer
        # audit.confirm: front ends hold each result until its event is stored (see Pipeline.finish)
        self.confirm = confirm
        self.confirm_timeout = confirm_timeout
        self._reason_key = reason_key
        self._reason_masker = reason_masker
        # Statements, decisions and identities are frozen and repeat across requests: their
        # event fragments are built and validated once (CheckedObject: read-only, and the
        # writer's canonical encoding does not walk them again).
        self._statement = functools.lru_cache(maxsize=4096)(_checked(_analyzed_statement_fields))
        self._decision = functools.lru_cache(maxsize=1024)(_checked(decision_fields))
        self._identity = functools.lru_cache(maxsize=4096)(_checked(identity_fields))
        self._client = functools.lru_cache(maxsize=4096)(lambda *key: CheckedObject(client_fields(*key)))
        self._templates: dict[tuple[Any, ...], EventTemplate] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, node_id: str | None = None,
                      mask_engine: MaskEngine | None = None, command: str | None = None) -> AuditService:
        """Open the configured store and start the writer; reasons get span-masked with ``mask_engine``.

        ``veil serve`` passes no ``command``; one-shot commands (``command="unmask"``) get a log
        of their own so they never wait for, or clash with, a running server's log.
        """
        writer = open_writer(settings, node_id=node_id, command=command)
        masker = detection_reason_masker(mask_engine) if mask_engine is not None else None
        return cls(writer, reason_key=derive_key(load_signer(settings), "reason"), reason_masker=masker,
                   confirm=settings.audit.confirm, confirm_timeout=settings.audit.confirm_timeout)

    @property
    def available(self) -> bool:
        """False while the store is failing (and not spooling): new statements must be refused."""
        return self.writer.available

    def ensure_available(self) -> None:
        """For ``authorize``: refuse *before* a statement reaches the database when it could not be
        audited (``on_store_failure: refuse``); ``record_request`` in ``finish`` is too late for that."""
        if not self.writer.available:
            raise AuditStoreUnavailable("audit store unavailable: statements are refused until it is back")

    def reason_fields(self, reason: str | None) -> dict[str, Any] | None:
        """Length and keyed hash of the reason (an auditor holding the key can check a claimed reason),
        and its masked text when a masker is wired.  Never the raw text."""
        if reason is None:
            return None
        digest = hmac.new(self._reason_key, reason.encode("utf-8", "surrogatepass"), hashlib.sha256)
        fields: dict[str, Any] = {"length": len(reason), "hmac": digest.hexdigest()}
        if self._reason_masker is not None:
            fields["masked"] = self._reason_masker(reason)[:MAX_SQL]
        return fields

    def request_event(self, request: Request) -> dict[str, Any]:
        """The whole event body of a request (``record_request`` encodes the same, faster)."""
        return {**self._request_fixed(request), **self._request_varying(request)}

    def record_request(self, request: Request) -> Receipt:
        """Exactly one per request; raises ``AuditStoreUnavailable`` while the store refuses.

        Through a template per (identity, database, statement, decision, protocol, tool):
        only the members that vary (REQUEST_VARYING) are encoded per event, and that by the
        writer thread (``AuditWriter.record_template``); this loop only gathers them.
        """
        statement, session = request.statement, request.session
        if statement is None or not statement.normalized:  # unanalyzed: normalized from the SQL text
            return self.writer.record(self.request_event(request))
        key = (session.identity, session.database, session.frontend, statement, request.decision,
               request.protocol, request.tool)
        template = self._templates.get(key)
        if template is None:
            template = self.writer.template(self._request_fixed(request), REQUEST_VARYING)
            if len(self._templates) >= MAX_TEMPLATES:
                del self._templates[next(iter(self._templates))]  # the oldest
            self._templates[key] = template
        return self.writer.record_template(template, self._request_varying(request))

    def _request_fixed(self, request: Request) -> dict[str, Any]:
        """What repeats from request to request of one identity and statement."""
        statement = request.statement
        st: dict[str, Any] | None
        if statement is not None and statement.normalized:
            st = self._statement(statement)
        else:
            st = statement_fields(statement, request.sql)
        fixed = {
            "type": "request",
            **session_fields(request.session, self._identity),
            "protocol": request.protocol,
            "tool": request.tool,
            "statement": st,
            "decision": self._decision(request.decision),
        }
        return {k: v for k, v in fixed.items() if k not in REQUEST_VARYING}

    def _request_varying(self, request: Request) -> dict[str, Any]:
        """REQUEST_VARYING: what each request fills in."""
        outcome, session = request.outcome, request.session
        return {
            "session": session.session_id,
            "client": self._client(session.client_addr, session.application_name, session.tls),
            "masking": masking_fields(request.provenance()),
            "reason": self.reason_fields(request.effective_reason),
            "outcome": {"status": outcome.status, "sqlstate": outcome.sqlstate, "rows": outcome.rows,
                        "bytes": outcome.bytes},
            "durations_us": {k: int(v * 1000) for k, v in sorted(outcome.durations_ms.items())},
            "elapsed_us": max(0, (time.perf_counter_ns() - request.started_ns) // 1000),
        }

    def record_session(self, session: Session, event: str, **fields: object) -> Receipt:
        """connect / auth_failure / disconnect / ...; ``fields`` must already be value-free."""
        body: dict[str, Any] = {"type": event, **session_fields(session, self._identity, self._client)}
        if "reason" in fields:
            reason = fields.pop("reason")
            body["reason"] = self.reason_fields(reason if isinstance(reason, str) else None)
        body["details"] = dict(fields)
        return self.writer.record(body)

    def record_event(self, event: str, *, identity: Identity | None = None, reason: str | None = None,
                     details: Mapping[str, object] | None = None) -> Receipt:
        """Events without a session: policy change, unmask from the CLI, audit reads."""
        if event == "request":
            raise AuditError("request events come from record_request")
        body: dict[str, Any] = {"type": event, "identity": self._identity(identity),
                                "reason": self.reason_fields(reason), "details": dict(details or {})}
        return self.writer.record(body)

    def flush(self, timeout: float | None = 10.0) -> None:
        self.writer.flush(timeout)

    def close(self) -> None:
        self.writer.close()


def detection_reason_masker(engine: MaskEngine, scanner: Scanner | None = None,
                            method: str = "redact") -> Callable[[str], str]:
    """Reason masking: what the scanner finds in the text is replaced by ``method``'s output."""
    scan = scanner if scanner is not None else default_scanner()
    methods = {"default": method}

    def mask(text: str) -> str:
        return engine.mask_spans(text, scan.scan(text), methods)

    return mask
