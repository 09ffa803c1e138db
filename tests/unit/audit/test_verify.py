"""Tamper tests on a stored trail: every edit is caught and the first bad event is named."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.audit.checkpoint import Checkpoint, Signer
from veil.audit.record import canonical_json
from veil.audit.tree import CompactTree, leaf_hash
from veil.audit.verify import verify_log

from .conftest import Trail, write_trail


def db(trail: Trail) -> sqlite3.Connection:
    return sqlite3.connect(trail.path, isolation_level=None)


def row_id(conn: sqlite3.Connection, seq: int) -> str:
    return str(conn.execute("SELECT event_id FROM audit_events WHERE seq = ?", (seq,)).fetchone()[0])


def test_untouched_trail_verifies(trail: Trail) -> None:
    result = trail.verify()
    assert result.ok, result.problem
    assert result.events == 40 and result.covered == 40 and result.checkpoints >= 4


def test_edited_field_names_the_event(trail: Trail) -> None:
    with db(trail) as conn:
        data = conn.execute("SELECT data FROM audit_events WHERE seq = 17").fetchone()[0]
        conn.execute("UPDATE audit_events SET data = ? WHERE seq = 17",
                     (bytes(data).replace(b'"subject":"user1"', b'"subject":"userX"'),))
        eid = row_id(conn, 17)
    result = trail.verify()
    assert not result.ok and result.problem is not None
    assert (result.problem.seq, result.problem.event_id) == (17, eid)


def test_edited_field_with_recomputed_leaf_hash_fails_the_signed_root(trail: Trail) -> None:
    with db(trail) as conn:
        data = json.loads(conn.execute("SELECT data FROM audit_events WHERE seq = 23").fetchone()[0])
        data["n"] = 999
        new = canonical_json(data)
        conn.execute("UPDATE audit_events SET data = ?, leaf = ? WHERE seq = 23", (new, leaf_hash(new)))
    result = trail.verify()
    assert not result.ok and result.problem is not None
    assert result.problem.seq is not None and result.problem.seq <= 23
    assert "signed root" in result.problem.message


def test_deleted_middle_event(trail: Trail) -> None:
    with db(trail) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq = 12")
    result = trail.verify()
    assert result.problem is not None and result.problem.seq == 12
    assert "missing" in result.problem.message


def test_deleted_last_event(trail: Trail) -> None:
    with db(trail) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq = 40")
    result = trail.verify()
    assert result.problem is not None and result.problem.seq == 40


def test_swapped_events(trail: Trail) -> None:
    with db(trail) as conn:
        a = conn.execute("SELECT event_id, data, leaf FROM audit_events WHERE seq = 8").fetchone()
        b = conn.execute("SELECT event_id, data, leaf FROM audit_events WHERE seq = 9").fetchone()
        conn.execute("UPDATE audit_events SET event_id=?, data=?, leaf=? WHERE seq = 8", b)
        conn.execute("UPDATE audit_events SET event_id=?, data=?, leaf=? WHERE seq = 9", a)
    result = trail.verify()
    assert result.problem is not None and result.problem.seq == 8


def test_inserted_duplicate(trail: Trail) -> None:
    with db(trail) as conn:
        conn.execute("DROP INDEX audit_events_seq")  # an attacker with file access can
        conn.execute("INSERT INTO audit_events SELECT * FROM audit_events WHERE seq = 30")
        eid = row_id(conn, 30)
    result = trail.verify()
    assert result.problem is not None and (result.problem.seq, result.problem.event_id) == (30, eid)
    assert "repeats" in result.problem.message


def _forge_tail(trail: Trail, start: int, key: Signer, *, keep_checkpoints: bool) -> None:
    """Rewrite events ``start..`` consistently (leaf hashes, tree) and re-sign checkpoints with ``key``."""
    with db(trail) as conn:
        rows = conn.execute("SELECT seq, data FROM audit_events ORDER BY seq").fetchall()
        tree = CompactTree()
        roots = {}
        for seq, data in rows:
            if seq >= start:
                body = json.loads(data)
                body["identity"] = {"subject": "nobody"}
                data = canonical_json(body)
                conn.execute("UPDATE audit_events SET data = ?, leaf = ? WHERE seq = ?",
                             (data, leaf_hash(data), seq))
            tree.append(leaf_hash(bytes(data)))
            roots[seq] = tree.root()
        if keep_checkpoints:
            for rowid, size in conn.execute("SELECT rowid, size FROM audit_checkpoints").fetchall():
                if size >= start:
                    note = key.sign(Checkpoint(trail.origin, size, roots[size]))
                    conn.execute("UPDATE audit_checkpoints SET note = ? WHERE rowid = ?", (note, rowid))
        else:
            conn.execute("DELETE FROM audit_checkpoints WHERE size >= ?", (start,))


def test_rehashed_forgery_without_the_key(trail: Trail) -> None:
    _forge_tail(trail, 33, Signer(Ed25519PrivateKey.generate()), keep_checkpoints=True)
    result = trail.verify()
    assert result.problem is not None and result.problem.seq is not None
    assert 30 <= result.problem.seq <= 33
    assert "signature" in result.problem.message


def test_rehashed_forgery_with_checkpoints_dropped_is_unsigned(trail: Trail) -> None:
    _forge_tail(trail, 33, Signer(Ed25519PrivateKey.generate()), keep_checkpoints=False)
    result = trail.verify()
    assert result.problem is not None and result.problem.seq is not None and result.problem.seq <= 33
    assert not trail.verify(allow_open_tail=True).problem  # only an open tail: the anchor is what catches it


def test_truncation_is_caught_by_a_trusted_checkpoint(trail: Trail) -> None:
    last = trail.sink().notes(trail.origin)[-1]
    with db(trail) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq > 30")
        conn.execute("DELETE FROM audit_checkpoints WHERE size > 30")
    assert trail.verify().ok  # a clean cut to an earlier checkpoint looks intact on its own...
    result = trail.verify(trusted=[last])
    assert result.problem is not None and result.problem.seq == 31  # ...but not against a witness


def test_trusted_checkpoint_signed_by_another_key_is_rejected(trail: Trail) -> None:
    forged = Signer(Ed25519PrivateKey.generate()).sign(Checkpoint(trail.origin, 40, bytes(32)))
    result = trail.verify(trusted=[forged])
    assert result.problem is not None and "trusted checkpoint" in result.problem.message


def test_wrong_verifier_key_fails(trail: Trail) -> None:
    sink = trail.sink()
    result = verify_log(trail.origin, sink.events(trail.origin), sink.notes(trail.origin),
                        [Signer(Ed25519PrivateKey.generate()).verifier])
    assert result.problem is not None and result.problem.seq == 1


def test_time_going_back_is_caught(trail: Trail) -> None:
    with db(trail) as conn:
        data = json.loads(conn.execute("SELECT data FROM audit_events WHERE seq = 5").fetchone()[0])
        data["time"] = "2000-01-01T00:00:00.000000Z"
        new = canonical_json(data)
        conn.execute("UPDATE audit_events SET data = ?, leaf = ? WHERE seq = 5", (new, leaf_hash(new)))
    result = trail.verify()
    assert result.problem is not None and result.problem.seq == 5


def test_empty_trail_verifies(tmp_path: Path, signer: Signer) -> None:
    assert verify_log("veil.audit/none", [], [], [signer.verifier]).ok


def test_an_edited_checkpoint_note_fails_its_signature(trail: Trail) -> None:
    with db(trail) as conn:
        rowid, note = conn.execute("SELECT rowid, note FROM audit_checkpoints WHERE size = 20").fetchone()
        conn.execute("UPDATE audit_checkpoints SET note = ? WHERE rowid = ?",
                     (note.replace("\n20\n", "\n19\n", 1), rowid))
    result = trail.verify()
    assert result.problem is not None and result.problem.seq == 11
    assert "no valid signature" in result.problem.message


@settings(max_examples=25, deadline=None)
@given(seq=st.integers(1, 40), position=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_any_flipped_bit_in_any_event_names_that_event(tmp_path_factory: pytest.TempPathFactory,
                                                        pristine: Path, signer_for_pristine: Signer,
                                                        seq: int, position: int, bit: int) -> None:
    path = tmp_path_factory.mktemp("flip") / "audit.db"
    shutil.copy(pristine, path)
    trail = Trail(path, signer_for_pristine)
    with db(trail) as conn:
        data = bytearray(conn.execute("SELECT data FROM audit_events WHERE seq = ?", (seq,)).fetchone()[0])
        data[position % len(data)] ^= 1 << bit
        conn.execute("UPDATE audit_events SET data = ? WHERE seq = ?", (bytes(data), seq))
    result = trail.verify()
    assert result.problem is not None and result.problem.seq == seq


@pytest.fixture(scope="module")
def signer_for_pristine() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, signer_for_pristine: Signer) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "audit.db"
    write_trail(path, signer_for_pristine, 40)
    return path


def test_an_event_nested_past_the_parser_depth_is_a_named_problem(trail: Trail) -> None:
    # found by the audit fuzz target: verify raised RecursionError instead of naming the event
    deep = b"[" * 100_000 + b"]" * 100_000
    with db(trail) as conn:
        conn.execute("UPDATE audit_events SET data = ?, leaf = ? WHERE seq = 9", (deep, leaf_hash(deep)))
        eid = row_id(conn, 9)
    result = trail.verify()
    assert not result.ok and result.problem is not None
    assert (result.problem.seq, result.problem.event_id) == (9, eid)
