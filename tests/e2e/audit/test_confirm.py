"""``audit.confirm``: a statement's result is released only once its audit event is stored.

In process (the real ``VeilPipeline`` and relay, an ``AuditWriter`` whose store the test
can hold or break): the client's statement does not complete while the store holds the
event, completes once it is stored, and ends the session with FATAL 58000 (result
withheld) when the store fails; the event is still written when the store is back.
Through ``veil serve`` with NATS JetStream (where confirm is the default): with the
server killed, a statement's result is withheld; after it is back, the event is there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict
from tests.e2e.audit.test_nats_store import OwnNats
from tests.support.proxy import basic_config, running_veil, url_dsn
from tests.support.services import PgServer

from veil.app import build_server
from veil.audit.record import StoredEvent, decode, origin_for
from veil.audit.setup import load_signer
from veil.audit.sinks import NoteRecord
from veil.audit.sinks.nats import NatsSink
from veil.audit.sinks.sqlite import SqliteSink
from veil.audit.verify import verify_log
from veil.audit.writer import AuditWriter
from veil.cli.keys import generate_keys
from veil.config import Settings, parse_config
from veil.errors import AuditStoreUnavailable
from veil.pipeline.audit import AuditService
from veil.pipeline.service import VeilPipeline

pytestmark = pytest.mark.pg


class HeldSink(SqliteSink):
    """A sqlite store the test can hold (appends wait) or break (appends fail)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.open_gate = threading.Event()
        self.open_gate.set()
        self.broken = False

    def append(self, origin: str, events: Sequence[StoredEvent], notes: Sequence[NoteRecord]) -> None:
        if events:
            self.open_gate.wait(10)
            if self.broken:
                raise AuditStoreUnavailable("audit store test: broken on purpose")
        super().append(origin, events, notes)


@pytest.fixture
def settings(pg_server: PgServer, tmp_path: Path) -> Settings:
    generate_keys(tmp_path / "keys")
    config = {
        "listen": {"postgres": "127.0.0.1:0"},
        "upstream": {"postgres": url_dsn(pg_server.dsn_for())},
        "keys": {"audit_signing": f"file:{tmp_path / 'keys/audit.key'}",
                 "masking": f"file:{tmp_path / 'keys/masking.key'}"},
        "identity": {"users": [{"name": "ana", "password": "pw-ana", "groups": ["analysts"],
                                "kind": "human"}]},
        "policies": [{"name": "analysts", "when": {"groups": ["analysts"]}, "access": "read-only",
                      "mask": {"default": "none", "secret": "none"}}],
        "audit": {"store": f"sqlite:///{tmp_path / 'trail.db'}", "node_id": "confirm-1", "confirm": True,
                  "confirm_timeout": "5s"},
    }
    return parse_config(yaml.safe_dump(config), base=tmp_path)


@pytest.fixture
def held(settings: Settings, tmp_path: Path) -> Iterator[tuple[HeldSink, AuditService]]:
    sink = HeldSink(tmp_path / "trail.db")
    writer = AuditWriter(sink, load_signer(settings), node_id="confirm-1", linger=0.0,
                         retry_interval=0.05).start()
    audit = AuditService(writer, reason_key=b"k" * 32, confirm=True, confirm_timeout=5.0)
    yield sink, audit
    sink.open_gate.set()
    sink.broken = False
    audit.close()


def test_confirm_is_on_by_default_only_for_nats(tmp_path: Path) -> None:
    def parsed(store: str) -> Settings:
        return parse_config(yaml.safe_dump({"upstream": {"postgres": "postgresql://h/db"},
                                            "audit": {"store": store}}), base=tmp_path)
    assert parsed("nats://127.0.0.1:4222/S").audit.confirm is True
    assert parsed(f"sqlite:///{tmp_path / 'a.db'}").audit.confirm is False


async def test_result_waits_for_the_stored_event(settings: Settings, pg_server: PgServer,
                                                 held: tuple[HeldSink, AuditService]) -> None:
    sink, audit = held
    server = build_server(settings, VeilPipeline(settings, audit=audit))
    host, port = await server.start("127.0.0.1", 0)
    dbname = conninfo_to_dict(pg_server.dsn_for())["dbname"]
    try:
        dsn = f"host={host} port={port} user=ana password=pw-ana dbname={dbname} sslmode=disable"
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
            sink.open_gate.clear()  # the store stops confirming
            query = asyncio.ensure_future(conn.execute("SELECT 2"))
            done, _ = await asyncio.wait({query}, timeout=0.5)
            assert not done, "the result was released before its audit event was stored"
            sink.open_gate.set()
            cursor = await asyncio.wait_for(query, 5)
            assert await cursor.fetchone() == (2,)
            assert audit.writer.stats["events"] >= 3  # connect + both statements, stored

            sink.broken = True  # now the store fails: the next result is withheld
            with pytest.raises(psycopg.OperationalError, match="audit trail could not record"):
                await conn.execute("SELECT 3")
    finally:
        sink.broken = False
        await server.shutdown(1.0)
    # nothing was dropped: the withheld statement's event was retried and stored
    audit.writer.flush(10)
    origin = origin_for("confirm-1")
    reader = SqliteSink(sink.path, readonly=True)
    reader.open()
    try:
        events = list(reader.events(origin))
        result = verify_log(origin, events, reader.notes(origin), [load_signer(settings).verifier])
        assert result.ok, result.problem
        sqls = [decode(e.data)["statement"]["sql"] for e in events if e.type == "request"]
        assert sqls == ["SELECT $1", "SELECT $1", "SELECT $1"]
    finally:
        reader.close()


def test_through_veil_serve_nats_withholds_results_it_cannot_store(pg_server: PgServer,
                                                                    tmp_path: Path) -> None:
    """NATS confirms by default: with the server gone, a statement's result is withheld (FATAL 58000,
    not released as if audited); once NATS is back the trail holds that statement's event and verifies."""
    nats = OwnNats(tmp_path / "js")
    nats.start()
    url = f"{nats.url}/VEIL_AUDIT"
    config = basic_config(pg_server.dsn_for(), [("ana", "pw-ana", ["analysts"], "human")],
                          audit={"store": url, "node_id": "confirm-nats", "confirm_timeout": "2s"})
    try:
        with running_veil(config, tmp_path=tmp_path) as veil:
            with psycopg.connect(veil.dsn("ana", "pw-ana"), autocommit=True) as conn:
                assert conn.execute("SELECT 41 AS n").fetchone() == (41,)
                nats.kill()
                with pytest.raises(psycopg.OperationalError, match="audit trail could not record"):
                    conn.execute("SELECT 42 AS n").fetchone()
            nats.start()  # same port, same JetStream store: the queued event goes out
            reader = NatsSink(url)
            reader.open()
            try:
                origin = origin_for("confirm-nats")
                deadline = time.monotonic() + 20
                while True:
                    events = list(reader.events(origin))
                    requests = [decode(e.data) for e in events if e.type == "request"]
                    if len(requests) >= 2 or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert [r["statement"]["sql"] for r in requests] == ["SELECT $1 AS n", "SELECT $1 AS n"]
            finally:
                reader.close()
    finally:
        nats.kill()


def test_confirmed_sessions_still_speak_every_protocol_path(pg_server: PgServer, tmp_path: Path) -> None:
    """Holding output per request must not stall pipelining, prepared statements, COPY or cursors."""
    config = basic_config(pg_server.dsn_for(), [("ana", "pw-ana", ["analysts"], "human")],
                          audit={"store": f"sqlite:///{tmp_path / 'trail.db'}", "confirm": True})
    with running_veil(config, tmp_path=tmp_path) as veil, \
            psycopg.connect(veil.dsn("ana", "pw-ana"), autocommit=True) as conn:
        with conn.pipeline():
            cursors = [conn.execute("SELECT %s::int", (i,)) for i in range(20)]
        assert [c.fetchone() for c in cursors] == [(i,) for i in range(20)]
        for i in range(3):  # prepared, re-executed without a new Describe
            assert conn.execute("SELECT %s::int + 1", (i,), prepare=True).fetchone() == (i + 1,)
        with conn.cursor().copy("COPY (SELECT g FROM generate_series(1, 500) g) TO STDOUT") as copy:
            assert sum(1 for _ in copy.rows()) == 500
        with conn.transaction(), conn.cursor(name="c") as named:
            named.execute("SELECT g FROM generate_series(1, 300) g")
            assert len(named.fetchmany(250)) == 250 and len(named.fetchall()) == 50
