"""AuditService: events built from Session/Request carry what happened and never a value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from veil.audit.checkpoint import Signer
from veil.audit.record import canonical_json
from veil.audit.sinks.sqlite import SqliteSink
from veil.audit.writer import AuditWriter
from veil.detect import default_scanner
from veil.errors import AuditError
from veil.mask.engine import MaskEngine
from veil.mask.keys import Keyring
from veil.pipeline.audit import AuditService, detection_reason_masker
from veil.pipeline.hooks import Request, Session
from veil.sql import analyze
from veil.values import Decision, Identity, MaskProvenance

EMAIL = "alice.planted@example.com"
SECRET_REASON = f"ticket 42 for {EMAIL}"


class FixedMasker:
    """A RowMasker as the masking side hands it over: here only its provenance matters."""

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        return values

    def provenance(self) -> list[MaskProvenance]:
        return [MaskProvenance("email", "email", "pseudonymize", "k1", 3, "values")]


@pytest.fixture
def service(tmp_path: Path, signer: Signer) -> Iterator[AuditService]:
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a").start()
    masker = detection_reason_masker(MaskEngine(Keyring.generate()), default_scanner())
    svc = AuditService(writer, reason_key=b"k" * 32, reason_masker=masker)
    yield svc
    svc.close()


def stored(tmp_path: Path) -> list[dict[str, object]]:
    sink = SqliteSink(tmp_path / "a.db", readonly=True)
    sink.open()
    try:
        return [json.loads(e.data) for e in sink.events("veil.audit/node-a")]
    finally:
        sink.close()


def session() -> Session:
    ident = Identity("agent-7", ("agents",), "agent", "jwt", actor=("alice",))
    return Session(ident, client_addr="127.0.0.1:5555", application_name="psql", database="app", tls=True)


def test_request_event_has_the_fields_and_no_values(service: AuditService, tmp_path: Path) -> None:
    sql = f"SELECT name, email FROM public.customers WHERE email = '{EMAIL}'"
    req = Request(session(), sql, reason=SECRET_REASON)
    req.statement = analyze(sql)[0]
    req.decision = Decision(True, "ai-agents", "read-only", rule_ids=("tables.allow",), reasons=("ok",),
                            policy_hash="abc")
    req.outcome.rows, req.outcome.bytes = 3, 120
    req.outcome.durations_ms["upstream"] = 1.25
    req.maskers.extend([FixedMasker(), FixedMasker()])
    service.record_request(req)
    service.flush()
    (event,) = stored(tmp_path)
    raw = json.dumps(event)
    assert EMAIL not in raw and "alice.planted" not in raw
    assert event["type"] == "request" and event["seq"] == 1 and event["node"] == "node-a"
    assert event["identity"] == {"subject": "agent-7", "groups": ["agents"], "kind": "agent", "source": "jwt",
                                 "actor": ["alice"]}
    assert event["client"] == {"addr": "127.0.0.1:5555", "application": "psql", "tls": True}
    statement = event["statement"]
    assert isinstance(statement, dict)
    assert statement["sql"] == "SELECT name, email FROM public.customers WHERE email = $1"
    assert statement["tables_read"] == ["public.customers"] and statement["fingerprint"]
    assert event["masking"] == [{"column": "email", "type": "email", "method": "pseudonymize", "key_id": "k1",
                                 "source": "values", "count": 6}]
    reason = event["reason"]
    assert isinstance(reason, dict) and reason["length"] == len(SECRET_REASON)
    assert str(reason["masked"]).startswith("ticket 42 for ") and len(str(reason["hmac"])) == 64
    assert event["outcome"] == {"status": "ok", "sqlstate": None, "rows": 3, "bytes": 120}
    assert event["durations_us"] == {"upstream": 1250}
    assert event["decision"]["policy"] == "ai-agents"  # type: ignore[index]


def test_unanalyzed_sql_is_normalized_never_raw(service: AuditService, tmp_path: Path) -> None:
    req = Request(session(), f"UPDATE t SET note = '{EMAIL}' WHERE id = 7")
    req.outcome.status, req.outcome.sqlstate = "refused", "42501"
    service.record_request(req)
    service.flush()
    (event,) = stored(tmp_path)
    assert EMAIL not in json.dumps(event)
    assert event["statement"] == {"sql": "UPDATE t SET note = $1 WHERE id = $2",
                                  "fingerprint": event["statement"]["fingerprint"]}  # type: ignore[index]
    assert event["decision"] is None and event["reason"] is None


def test_without_a_masker_only_length_and_keyed_hash(tmp_path: Path, signer: Signer) -> None:
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a").start()
    svc = AuditService(writer, reason_key=b"k" * 32)
    svc.record_session(session(), "connect", reason=SECRET_REASON, protocol_version="3.0")
    svc.record_event("policy_change", identity=None, details={"digest": "abc"})
    with pytest.raises(AuditError):
        svc.record_event("request")
    svc.close()
    connect, change = stored(tmp_path)
    assert EMAIL not in json.dumps(connect)
    assert set(connect["reason"]) == {"length", "hmac"}  # type: ignore[arg-type]
    assert connect["details"] == {"protocol_version": "3.0"} and connect["session"]
    assert change["type"] == "policy_change" and change["details"] == {"digest": "abc"}


def test_templated_requests_store_the_canonical_event_and_follow_changes(service: AuditService,
                                                                         tmp_path: Path) -> None:
    """record_request encodes through a cached template: the stored bytes must be exactly the
    canonical encoding of the whole event, and whatever changed (session, client, database,
    decision) must show in the event."""
    sql = "SELECT name FROM public.customers WHERE id = 7"
    first, second = session(), session()
    second.client_addr = "127.0.0.1:6666"
    allowed = Decision(True, "ai-agents", "read-only", rule_ids=("tables.allow",))
    steps = [(first, "psql", "app", allowed), (first, "psql", "app", allowed),
             (first, "dbeaver", "app", allowed), (second, "dbeaver", "app", allowed),
             (second, "dbeaver", "app", Decision(False, "ai-agents", "read-only")),
             (second, "dbeaver", "billing", allowed)]
    bodies = []
    for i, (sess, app, database, decision) in enumerate(steps):
        sess.application_name, sess.database = app, database
        req = Request(sess, sql, reason="ticket 9" if i == 1 else None)
        req.statement, req.decision = analyze(sql)[0], decision
        req.outcome.rows = i
        service.record_request(req)
        bodies.append(service.request_event(req))
    service.flush()
    sink = SqliteSink(tmp_path / "a.db", readonly=True)
    sink.open()
    events = [json.loads(e.data) for e in sink.events("veil.audit/node-a")]
    raw = [e.data for e in sink.events("veil.audit/node-a")]
    sink.close()
    for data, event, body in zip(raw, events, bodies, strict=True):
        whole = {**body, **{k: event[k] for k in ("v", "seq", "id", "time", "node")},
                 "elapsed_us": event["elapsed_us"]}
        assert data == canonical_json(whole)
    assert [e["session"] for e in events] == [first.session_id] * 3 + [second.session_id] * 3
    assert [e["client"]["addr"] for e in events] == ["127.0.0.1:5555"] * 3 + ["127.0.0.1:6666"] * 3
    assert [e["client"]["application"] for e in events] == ["psql", "psql"] + ["dbeaver"] * 4
    assert [e["decision"]["allowed"] for e in events] == [True, True, True, True, False, True]
    assert [e["database"] for e in events] == ["app"] * 5 + ["billing"]
    assert [e["outcome"]["rows"] for e in events] == [0, 1, 2, 3, 4, 5]
    assert events[1]["reason"]["length"] == len("ticket 9")
    # one template per (identity, database, statement, decision, ...), shared by both sessions
    assert len(service._templates) == 3
