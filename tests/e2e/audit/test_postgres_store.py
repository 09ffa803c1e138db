"""The PostgreSQL store against a real server: nodes side by side, outages, refuse and spool."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tests.support.forwarder import Forwarder
from tests.support.services import PgServer

from veil.audit.checkpoint import Signer
from veil.audit.record import origin_for
from veil.audit.sinks.postgres import PostgresSink
from veil.audit.sinks.spool import SpoolingSink
from veil.audit.verify import verify_log
from veil.audit.writer import AuditWriter
from veil.errors import AuditStoreUnavailable

pytestmark = pytest.mark.pg


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture
def store(pg_server: PgServer) -> Iterator[tuple[str, str]]:
    """(admin DSN, a schema of our own): no CREATE/DROP DATABASE on the shared server, which can stall."""
    schema = f"veil_audit_t_{uuid.uuid4().hex[:10]}"
    yield pg_server.dsn, schema
    with pg_server.admin() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def via(dsn: str, port: int) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    params.update(host="127.0.0.1", port=str(port), connect_timeout="2")
    return make_conninfo(**params)


def target(dsn: str) -> tuple[str, int]:
    params = conninfo_to_dict(dsn)
    host = str(params.get("host", "127.0.0.1"))
    if host.startswith("/"):
        pytest.skip("the forwarder needs PostgreSQL on TCP")
    return host, int(params.get("port", 5432))


def spooling(dsn: str, schema: str, port: int, directory: Path) -> SpoolingSink:
    """A PostgreSQL store reached through the forwarder on ``port``, spooling to ``directory``."""
    return SpoolingSink(PostgresSink(via(dsn, port), schema=schema), directory)


def check(dsn: str, schema: str, node: str, signer: Signer, count: int) -> None:
    sink = PostgresSink(dsn, schema=schema)
    sink.open()
    try:
        origin = origin_for(node)
        result = verify_log(origin, sink.events(origin), sink.notes(origin), [signer.verifier])
        assert result.ok, result.problem
        assert result.events == count
    finally:
        sink.close()


def wait_until(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_nodes_write_side_by_side(store: tuple[str, str], signer: Signer) -> None:
    pg_dsn, schema = store
    writers = [AuditWriter(PostgresSink(pg_dsn, schema=schema), signer, node_id=f"node-{i}",
                           checkpoint_every=7).start() for i in range(3)]
    for n in range(20):
        for w in writers:
            w.record({"type": "request", "n": n})
    for w in writers:
        w.close()
    for i in range(3):
        check(pg_dsn, schema, f"node-{i}", signer, 20)
    again = AuditWriter(PostgresSink(pg_dsn, schema=schema), signer, node_id="node-1").start()
    assert again.record({"type": "request"}).seq == 21
    again.close()
    check(pg_dsn, schema, "node-1", signer, 21)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(f'SELECT count(DISTINCT origin) FROM "{schema}".events').fetchone() == (3,)


def test_outage_refuses_then_recovers_without_loss(store: tuple[str, str], signer: Signer) -> None:
    pg_dsn, schema = store
    fwd = Forwarder(target(pg_dsn)).start()
    writer = AuditWriter(PostgresSink(via(pg_dsn, fwd.port), schema=schema), signer, node_id="n",
                         retry_interval=0.1).start()
    try:
        for _ in range(5):
            writer.record({"type": "request"})
        writer.flush()
        fwd.kill()  # the store goes away under a running writer
        accepted = [writer.record({"type": "request"})]
        wait_until(lambda: not writer.available)
        with pytest.raises(AuditStoreUnavailable, match="unavailable"):
            writer.record({"type": "request"})
        fwd = Forwarder(fwd.target, fwd.port).start()  # back on the same address
        writer.wait(accepted[-1].seq, timeout=15)
        assert writer.available
        writer.record({"type": "request"})
    finally:
        writer.close()
        fwd.kill()
    check(pg_dsn, schema, "n", signer, 7)


def test_outage_with_spool_accepts_and_forwards_in_order(store: tuple[str, str], signer: Signer,
                                                         tmp_path: Path) -> None:
    pg_dsn, schema = store
    fwd = Forwarder(target(pg_dsn)).start()
    sink = spooling(pg_dsn, schema, fwd.port, tmp_path / "spool")
    writer = AuditWriter(sink, signer, node_id="n", checkpoint_every=4, retry_interval=0.1).start()
    try:
        writer.record({"type": "request"})
        writer.flush()
        fwd.kill()
        for _ in range(9):
            writer.record({"type": "request"})  # never refused: spooled
        writer.flush(timeout=15)
        assert writer.available and sink.spooled_bytes > 0
        fwd = Forwarder(fwd.target, fwd.port).start()
        wait_until(lambda: sink.spooled_bytes == 0, timeout=15)
        writer.record({"type": "request"})
    finally:
        writer.close()
        fwd.kill()
    check(pg_dsn, schema, "n", signer, 11)


def test_revoked_privilege_refuses_until_granted(store: tuple[str, str], signer: Signer) -> None:
    pg_dsn, schema = store
    owner = PostgresSink(pg_dsn, schema=schema)
    owner.open()  # the schema exists, owned by the admin
    owner.close()
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        role = f"veil_audit_w_{int(time.time() * 1000) % 10**8}"
        admin.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD \'pw\'')
        try:
            admin.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"')
            admin.execute(f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
            admin.execute(f'GRANT UPDATE, DELETE ON "{schema}".leases TO "{role}"')
            params = {k: str(v) for k, v in conninfo_to_dict(pg_dsn).items()}
            params.update(user=role, password="pw")
            writer = AuditWriter(PostgresSink(make_conninfo(**params), schema=schema), signer, node_id="n",
                                 retry_interval=0.1).start()
            writer.record({"type": "request"})
            writer.flush()
            admin.execute(f'REVOKE INSERT ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"')
            pending = writer.record({"type": "request"})
            wait_until(lambda: not writer.available)
            with pytest.raises(AuditStoreUnavailable, match="permission denied"):
                writer.record({"type": "request"})
            admin.execute(f'GRANT INSERT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
            writer.wait(pending.seq, timeout=15)
            writer.close()
        finally:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    check(pg_dsn, schema, "n", signer, 2)


def test_spool_node_starts_while_the_store_is_down_after_a_clean_shutdown(
        store: tuple[str, str], signer: Signer, tmp_path: Path) -> None:
    pg_dsn, schema = store
    fwd = Forwarder(target(pg_dsn)).start()

    writer = AuditWriter(spooling(pg_dsn, schema, fwd.port, tmp_path / "spool"), signer, node_id="n",
                         retry_interval=0.1).start()
    for _ in range(3):
        writer.record({"type": "request"})
    writer.close()  # clean: everything stored and checkpointed, the log's end saved beside the spool
    fwd.kill()
    sink = spooling(pg_dsn, schema, fwd.port, tmp_path / "spool")
    writer = AuditWriter(sink, signer, node_id="n", retry_interval=0.1).start()  # store down: starts anyway
    try:
        receipts = [writer.record({"type": "request"}) for _ in range(4)]
        assert receipts[0].seq == 4, "the offline start must continue the log, not restart it"
        writer.flush(timeout=15)
        assert sink.spooled_bytes > 0
        fwd = Forwarder(fwd.target, fwd.port).start()
        wait_until(lambda: sink.spooled_bytes == 0, timeout=15)
    finally:
        writer.close()
        fwd.kill()
    check(pg_dsn, schema, "n", signer, 7)


def test_spool_node_refuses_to_start_offline_after_a_crash(store: tuple[str, str], signer: Signer,
                                                           tmp_path: Path) -> None:
    pg_dsn, schema = store
    fwd = Forwarder(target(pg_dsn)).start()
    sink = spooling(pg_dsn, schema, fwd.port, tmp_path / "spool")
    writer = AuditWriter(sink, signer, node_id="n", retry_interval=0.1).start()
    writer.record({"type": "request"})
    writer.flush()
    fwd.kill()  # no close(): as after a crash, no saved end
    try:
        again = spooling(pg_dsn, schema, fwd.port, tmp_path / "spool")
        with pytest.raises(AuditStoreUnavailable, match="last shutdown was not clean"):
            AuditWriter(again, signer, node_id="n").start()
    finally:  # only now may the "crashed" writer stop (its clean close would save the end)
        with contextlib.suppress(AuditStoreUnavailable):
            writer.close(timeout=2)
