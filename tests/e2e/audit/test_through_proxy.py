"""Through the real PostgreSQL front end: one event per request, never a planted value.

The pipeline here is the smallest honest composition (the real ``Authorizer`` and
``PolicySet``, ``AuditService`` in ``finish``); the lead's ``VeilPipeline`` composes
the same parts.  A workload of allowed, refused and failing statements, with PII in
WHERE literals, bind parameters and reasons, must give exactly one request event
each, an intact trail, and an export that holds none of the planted values.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict
from tests.support.proxy import url_dsn
from tests.support.services import PgServer

from veil.app import build_server
from veil.audit.record import origin_for
from veil.audit.sinks.sqlite import SqliteSink
from veil.audit.verify import verify_log
from veil.cli.keys import generate_keys
from veil.config import Settings, parse_config
from veil.pipeline.audit import AuditService
from veil.pipeline.authorize import Authorizer
from veil.pipeline.hooks import PassThroughPipeline, Request, Session
from veil.policy import PolicySet
from veil.values import Decision

pytestmark = pytest.mark.pg

EMAIL = "zed.planted@example.org"
CARD = "4111111111111111"
REASON_SECRET = "patient jane.planted@example.com"


class AuditedPipeline(PassThroughPipeline):
    def __init__(self, settings: Settings, audit: AuditService) -> None:
        self.authorizer = Authorizer(PolicySet.from_settings(settings))
        self.audit = audit

    def open_session(self, session: Session) -> None:
        self.audit.record_session(session, "connect")

    def authorize(self, request: Request) -> Decision:
        self.audit.ensure_available()
        return self.authorizer.authorize(request)

    def finish(self, request: Request) -> None:
        self.audit.record_request(request)

    def close_session(self, session: Session) -> None:
        self.audit.record_session(session, "disconnect")


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> Iterator[str]:
    """The admin database with a schema of our own first on the search path (no CREATE/DROP DATABASE,
    which can stall on a shared server)."""
    schema = f"veil_audit_p_{uuid.uuid4().hex[:10]}"
    with pg_server.admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".customers (id int, email text, card text)')
        conn.execute(f'INSERT INTO "{schema}".customers VALUES (1, %s, %s)', (EMAIL, CARD))
    yield pg_server.dsn_for(options=f"-c search_path={schema}")
    with pg_server.admin() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def settings(pg_dsn: str, tmp_path: Path) -> Settings:
    generate_keys(tmp_path / "keys")
    config = {
        "listen": {"postgres": "127.0.0.1:0"},
        "upstream": {"postgres": url_dsn(pg_dsn)},
        "keys": {"audit_signing": f"file:{tmp_path / 'keys/audit.key'}"},
        "identity": {"users": [{"name": "ana", "password": "pw-ana", "groups": ["analysts"],
                                "kind": "human"}]},
        "policies": [{"name": "analysts", "when": {"groups": ["analysts"]}, "access": "read-only",
                      "mask": {"default": "none"}}],
        "audit": {"store": f"sqlite:///{tmp_path / 'trail.db'}", "node_id": "proxy-1"},
    }
    return parse_config(yaml.safe_dump(config), base=tmp_path)


async def test_one_event_per_request_and_no_planted_value(settings: Settings, pg_dsn: str,
                                                          tmp_path: Path) -> None:
    dbname = conninfo_to_dict(pg_dsn)["dbname"]
    audit = AuditService.from_settings(settings)
    server = build_server(settings, AuditedPipeline(settings, audit))
    host, port = await server.start("127.0.0.1", 0)
    issued = 0
    try:
        dsn = f"host={host} port={port} user=ana password=pw-ana dbname={dbname} sslmode=disable"
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            rows = await (await conn.execute(f"SELECT id FROM customers WHERE email = '{EMAIL}'")).fetchall()
            assert rows == [(1,)]
            await conn.execute("SELECT id FROM customers WHERE card = %s", (CARD,))
            await conn.execute(f"/* veil.reason: {REASON_SECRET} */ SELECT count(*) FROM customers")
            issued += 3
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # read-only policy: refused
                await conn.execute(f"UPDATE customers SET email = '{EMAIL}x' WHERE id = 1")
            issued += 1
            with pytest.raises(psycopg.errors.DivisionByZero):  # allowed, fails upstream
                await conn.execute(f"SELECT 1 / 0 FROM customers WHERE email = '{EMAIL}'")
            issued += 1
    finally:
        await server.shutdown(1.0)
        audit.close()
    sink = SqliteSink(tmp_path / "trail.db", readonly=True)
    sink.open()
    origin = origin_for("proxy-1")
    stored = list(sink.events(origin))
    result = verify_log(origin, stored, sink.notes(origin), [audit.writer.signer.verifier])
    sink.close()
    assert result.ok, result.problem
    export = b"\n".join(e.data for e in stored).decode()
    for planted in (EMAIL, CARD, "jane.planted", REASON_SECRET):
        assert planted not in export
    events = [json.loads(e.data) for e in stored]
    requests = [e for e in events if e["type"] == "request"]
    assert len(requests) == issued
    assert [e["outcome"]["status"] for e in requests] == ["ok", "ok", "ok", "refused", "error"]
    assert requests[3]["outcome"]["sqlstate"] == "42501" and requests[4]["outcome"]["sqlstate"] == "22012"
    assert requests[0]["statement"]["sql"] == "SELECT id FROM customers WHERE email = $1"
    assert requests[2]["reason"]["length"] == len(REASON_SECRET)
    types = [e["type"] for e in events]
    assert types.count("connect") == 1 == types.count("disconnect")


async def test_store_outage_refuses_statements_then_recovers(settings: Settings, pg_dsn: str,
                                                             tmp_path: Path) -> None:
    import asyncio
    import sqlite3

    from veil.audit.setup import load_signer
    from veil.audit.writer import AuditWriter

    path = tmp_path / "trail.db"
    writer = AuditWriter(SqliteSink(path, busy_timeout=0.05), load_signer(settings), node_id="proxy-1",
                         retry_interval=0.05).start()
    audit = AuditService(writer, reason_key=b"k" * 32)
    server = build_server(settings, AuditedPipeline(settings, audit))
    host, port = await server.start("127.0.0.1", 0)
    dbname = conninfo_to_dict(pg_dsn)["dbname"]
    try:
        dsn = f"host={host} port={port} user=ana password=pw-ana dbname={dbname} sslmode=disable"
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute("SELECT 1")
            blocker = sqlite3.connect(path, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")  # the store stops taking writes
            await conn.execute("SELECT 2")  # executed; its event waits in the queue
            for _ in range(200):
                if not audit.available:
                    break
                await asyncio.sleep(0.02)
            with pytest.raises(psycopg.errors.InternalError, match="audit store unavailable"):
                await conn.execute("SELECT 3")  # refused before reaching the database
            blocker.execute("ROLLBACK")
            blocker.close()
            for _ in range(200):
                if audit.available:
                    break
                await asyncio.sleep(0.02)
            await conn.execute("SELECT 4")
    finally:
        await server.shutdown(1.0)
        audit.close()
    sink = SqliteSink(path, readonly=True)
    sink.open()
    origin = origin_for("proxy-1")
    stored = list(sink.events(origin))
    result = verify_log(origin, stored, sink.notes(origin), [writer.signer.verifier])
    sink.close()
    assert result.ok, result.problem
    sqls = [json.loads(e.data)["statement"]["sql"] for e in stored if json.loads(e.data)["type"] == "request"]
    assert sqls == ["SELECT $1", "SELECT $1", "SELECT $1"]  # 1, 2 (queued through the outage) and 4
