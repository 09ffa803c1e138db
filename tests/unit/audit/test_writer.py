"""The writer: gap-free numbering, checkpoints on count/time/close, restart, anchor, store failure."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from veil.audit.checkpoint import Signer, read_notes
from veil.audit.record import origin_for
from veil.audit.sinks.spool import SpoolingSink
from veil.audit.sinks.sqlite import SqliteSink
from veil.audit.verify import verify_log
from veil.audit.writer import AuditWriter
from veil.errors import AuditError, AuditStoreUnavailable

ORIGIN = origin_for("node-a")


def verify(path: Path, signer: Signer, **kwargs: object):  # type: ignore[no-untyped-def]
    sink = SqliteSink(path, readonly=True)
    sink.open()
    try:
        return verify_log(ORIGIN, list(sink.events(ORIGIN)), sink.notes(ORIGIN), [signer.verifier],
                          **kwargs)  # type: ignore[arg-type]
    finally:
        sink.close()


def test_concurrent_records_are_gap_free_and_verify(tmp_path: Path, signer: Signer) -> None:
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a", checkpoint_every=50).start()
    seqs: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for i in range(200):
            receipt = writer.record({"type": "request", "i": i})
            with lock:
                seqs.append(receipt.seq)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert sorted(seqs) == list(range(1, 801))
    result = verify(tmp_path / "a.db", signer)
    assert result.ok and result.events == 800 and result.checkpoints >= 800 // 50


def test_checkpoint_every_interval_while_events_flow(tmp_path: Path, signer: Signer) -> None:
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a",
                         checkpoint_interval=0.2, checkpoint_every=10_000).start()
    try:
        writer.record({"type": "request"})
        writer.wait()
        deadline = time.monotonic() + 5
        while writer.stats["checkpoints"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writer.stats["checkpoints"] == 1  # without close, within the interval
        assert verify(tmp_path / "a.db", signer).ok
        time.sleep(0.5)
        assert writer.stats["checkpoints"] == 1  # nothing new: no empty checkpoints
    finally:
        writer.close()


def test_restart_continues_the_same_tree(tmp_path: Path, signer: Signer) -> None:
    for _ in range(3):
        sink = SqliteSink(tmp_path / "a.db")
        writer = AuditWriter(sink, signer, node_id="node-a", checkpoint_every=4).start()
        for _ in range(7):
            writer.record({"type": "request"})
        writer.close()
    result = verify(tmp_path / "a.db", signer)
    assert result.ok and result.events == 21


def test_restart_after_a_crash_resumes_the_unsigned_tail(tmp_path: Path, signer: Signer) -> None:
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a", checkpoint_every=1000,
                         checkpoint_interval=3600).start()
    for _ in range(5):
        writer.record({"type": "request"})
    writer.wait()  # durable but never checkpointed: then the process "dies" and its lease lapses
    assert not verify(tmp_path / "a.db", signer).ok
    with sqlite3.connect(tmp_path / "a.db", isolation_level=None) as conn:
        conn.execute("UPDATE audit_leases SET expires = 0")
    again = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a").start()
    assert again.record({"type": "request"}).seq == 6
    again.close()
    result = verify(tmp_path / "a.db", signer)
    assert result.ok
    assert any("events 1..5 were signed by a restarted writer" in w for w in result.warnings)
    writer.close()  # the "dead" one: nothing left to write


def test_anchor_receives_every_checkpoint(tmp_path: Path, signer: Signer) -> None:
    anchor = tmp_path / "witness"
    anchor.mkdir()
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a", checkpoint_every=5,
                         anchor=anchor).start()
    for i in range(12):
        writer.record({"type": "request"})
        if i % 5 == 4:
            writer.flush()
    writer.close()
    notes = read_notes([anchor])
    assert len(notes) == 3
    assert verify(tmp_path / "a.db", signer, trusted=notes).ok


def test_bad_bodies_are_refused_without_spending_a_number(tmp_path: Path, signer: Signer) -> None:
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a").start()
    with pytest.raises(AuditError):
        writer.record({"type": "request", "seq": 5})
    with pytest.raises(AuditError):
        writer.record({"type": "request", "value": b"raw"})
    assert writer.record({"type": "request"}).seq == 1
    writer.close()
    with pytest.raises(AuditStoreUnavailable):
        writer.record({"type": "request"})


def test_deferred_events_that_cannot_be_encoded_are_kept_scrubbed_never_dropped(
        tmp_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    """record_template encodes on the writer thread, after the number is spent: a value JSON
    cannot hold must still give an event (its text replaced), not a gap or a stuck queue."""
    writer = AuditWriter(SqliteSink(tmp_path / "a.db"), signer, node_id="node-a").start()
    template = writer.template({"type": "request", "frontend": "pg"}, ["masking", "elapsed_us"])
    writer.record_template(template, {"masking": [{"column": "bad\udc80name"}], "elapsed_us": 7})
    writer.record_template(template, {"masking": [], "elapsed_us": float("nan")})
    writer.record_template(template, {"masking": [], "elapsed_us": object()})
    writer.record_template(template, {"masking": [], "elapsed_us": 9})
    writer.record_template(template, {"masking": []})  # a slot missing: a bug, still an event
    writer.close()
    sink = SqliteSink(tmp_path / "a.db", readonly=True)
    sink.open()
    events = [json.loads(e.data) for e in sink.events(origin_for("node-a"))]
    sink.close()
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[0]["masking"] == [{"column": "bad\ufffdname"}] and events[0]["elapsed_us"] == 7
    assert events[1]["elapsed_us"] is None  # a non-finite number has no JSON form
    assert events[2]["masking"] is None and events[2]["elapsed_us"] is None  # nothing to save
    assert events[3] == {**events[3], "type": "request", "frontend": "pg", "masking": [], "elapsed_us": 9}
    assert events[4]["masking"] is None and events[4]["elapsed_us"] is None
    assert "recorded with what JSON cannot hold replaced" in caplog.text and "udc80" not in caplog.text
    assert verify(tmp_path / "a.db", signer).ok


def test_refuse_while_the_store_is_locked_then_recover(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "a.db"
    writer = AuditWriter(SqliteSink(path, busy_timeout=0.05), signer, node_id="node-a",
                         retry_interval=0.05).start()
    writer.record({"type": "request"})
    writer.flush()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database: writes fail
    accepted = writer.record({"type": "request"})  # queued before the failure is known
    deadline = time.monotonic() + 5
    while writer.available and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(AuditStoreUnavailable):
        writer.record({"type": "request"})
    blocker.execute("ROLLBACK")
    blocker.close()
    writer.wait(accepted.seq, timeout=5)  # the queued event was retried, not dropped
    assert writer.record({"type": "request"}).seq == accepted.seq + 1
    writer.close()
    result = verify(path, signer)
    assert result.ok and result.events == 3


def test_spool_keeps_accepting_and_forwards_in_order(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "a.db"
    sink = SpoolingSink(SqliteSink(path, busy_timeout=0.05), tmp_path / "spool")
    writer = AuditWriter(sink, signer, node_id="node-a", checkpoint_every=3, retry_interval=0.05).start()
    writer.record({"type": "request"})
    writer.flush()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    for _ in range(10):
        writer.record({"type": "request"})
    writer.flush()  # durable in the spool
    assert writer.available and sink.spooled_bytes > 0
    blocker.execute("ROLLBACK")
    blocker.close()
    deadline = time.monotonic() + 5
    while sink.spooled_bytes and time.monotonic() < deadline:  # forwarded when idle
        time.sleep(0.05)
    assert sink.spooled_bytes == 0
    writer.close()
    result = verify(path, signer)
    assert result.ok and result.events == 11


def test_a_full_spool_refuses(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "a.db"
    sink = SpoolingSink(SqliteSink(path, busy_timeout=0.05), tmp_path / "spool", max_bytes=2000)
    writer = AuditWriter(sink, signer, node_id="node-a", retry_interval=0.05).start()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(AuditStoreUnavailable):
            for _ in range(200):
                writer.record({"type": "request", "pad": "x" * 100})
                writer.wait(timeout=2)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    writer.close()
    assert verify(path, signer).ok


def test_a_second_writer_on_a_live_node_forks_instead_of_clashing(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "a.db"
    server = AuditWriter(SqliteSink(path), signer, node_id="node-a").start()
    server.record({"type": "request"})
    command = AuditWriter(SqliteSink(path), signer, node_id="node-a").start()  # e.g. `veil unmask`
    assert command.origin != ORIGIN and command.origin.startswith(ORIGIN + "~")
    command.record({"type": "unmask"})
    command.close()
    server.record({"type": "request"})
    server.close()
    assert verify(path, signer).events == 2  # the server's log is whole and gap-free
    after = AuditWriter(SqliteSink(path), signer, node_id="node-a").start()  # released at close
    assert after.origin == ORIGIN and after.record({"type": "request"}).seq == 3
    after.close()
    assert verify(path, signer).ok


def test_a_lapsed_lease_taken_over_stops_the_old_writer(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "a.db"
    old = AuditWriter(SqliteSink(path), signer, node_id="node-a", lease_ttl=0.2).start()
    old.record({"type": "request"})
    old.flush()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE audit_leases SET holder = 'someone-else', expires = 1e12")
    conn.close()
    deadline = time.monotonic() + 5
    while old.available and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(AuditStoreUnavailable, match="taken over"):
        old.record({"type": "request"})
    old.close()


def test_spooled_batches_survive_a_restart_and_are_forwarded_first(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "a.db"
    spool = tmp_path / "spool"
    first = AuditWriter(SpoolingSink(SqliteSink(path, busy_timeout=0.05), spool), signer, node_id="node-a",
                        retry_interval=0.05, lease_ttl=0.5).start()
    first.record({"type": "request"})
    first.flush()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    for _ in range(4):
        first.record({"type": "request"})
    first.close()  # clean shutdown while the store is down: the rest waits in the spool file
    blocker.execute("ROLLBACK")
    blocker.close()
    assert (spool / "audit-spool.jsonl").exists()
    second = AuditWriter(SpoolingSink(SqliteSink(path), spool), signer, node_id="node-a")
    second.start(lease_wait=2.0)  # the lease could not be released while the store was down
    assert second.record({"type": "request"}).seq == 6  # the spool went first, then numbering went on
    second.close()
    assert not (spool / "audit-spool.jsonl").exists()
    result = verify(path, signer)
    assert result.ok and result.events == 6
