"""A hostile network on both sides of veil: torn, split, merged and cut connections.

Why: between a client and veil, and between veil and PostgreSQL, anything can happen
to a TCP stream: segments arrive one byte at a time or many messages at once, and a
connection can die in the middle of the startup packet, the SCRAM exchange, a result
or a COPY.  veil must survive each of these (the process stays up, the next client is
served), leave nothing behind (its own session is closed and the upstream backend
goes away, so connection slots do not leak), and tell a client whose *upstream* died
what happened (FATAL 08006) instead of letting it hang.

Layout: one veil between two fault forwarders (a module fixture, so the file stays fast):

* client side:   client -> Forwarder(faults) -> veil -> (forwarder, no fault) -> PostgreSQL
* upstream side: client -> veil -> Forwarder(faults) -> PostgreSQL

Each test marks its connection with a unique ``application_name``; the forwarder
applies the fault only to connections whose startup packet carries it (veil passes
``application_name`` on to the upstream), and the leftover check looks for that name
in ``pg_stat_activity``.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.forwarder import Direction, Fault, Forwarder
from tests.support.proxy import RawSession, VeilProcess, basic_config, running_veil
from tests.support.services import PgServer, temp_database

pytestmark = pytest.mark.timeout(30)

USER, PASSWORD = "faulty", "pw-faulty-1"
ROWS = 20_000  # enough that a cut at row 50 lands while the upstream is still sending
WIDE = f"SELECT g, repeat('x', 100) FROM generate_series(1, {ROWS}) g"
COPY_OUT = f"COPY ({WIDE}) TO STDOUT"
FAST_STOP = {"postgres": "127.0.0.1:0", "shutdown_grace": "0s"}  # no session outlives a test anyway


def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


class Side:
    """One veil with a fault forwarder on one side of it, and the checks every test shares."""

    def __init__(self, veil: VeilProcess, forwarder: Forwarder, direct_dsn: str, client_port: int) -> None:
        self.veil, self.forwarder = veil, forwarder
        self.direct_dsn, self.client_port = direct_dsn, client_port

    def dsn(self, app: str, port: int | None = None) -> str:
        return make_conninfo(self.veil.dsn(USER, PASSWORD), port=str(port or self.client_port),
                             application_name=app, sslmode="disable", connect_timeout="5")

    def fault(self, to_target: Direction | None = None,
              to_client: Direction | None = None) -> tuple[str, Fault]:
        """A fault for one new connection, keyed by a fresh application_name (returned)."""
        app = f"fault_{uuid.uuid4().hex[:10]}"
        fault = Fault(match=app.encode(), to_target=to_target or Direction(),
                      to_client=to_client or Direction())
        return app, self.forwarder.add_fault(fault)

    def backends(self, app: str) -> int:
        with psycopg.connect(self.direct_dsn, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                               (app,)).fetchone()
        return int(row[0]) if row else 0

    def sessions_balanced(self) -> bool:
        """Every relayed session ("session start") has ended (a failed upstream login never started)."""
        logs = self.veil.logs()
        ends = re.findall(r"session end .*reason=(\S+)", logs)
        return len(re.findall(r"session start ", logs)) == sum(1 for r in ends if r != "login-failed")

    def assert_recovered(self, app: str) -> None:
        """veil is up, nothing of the faulty session is left, and a healthy client is served."""
        assert self.veil.alive(), self.veil.logs()[-3000:]
        eventually(lambda: self.backends(app) == 0, what="the upstream backend of the cut session gone")
        eventually(self.sessions_balanced, what="every veil session start matched by a session end")
        healthy = f"healthy_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self.dsn(healthy), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() is not None
        logs = self.veil.logs()
        assert "Traceback" not in logs and "session failed" not in logs, logs[-3000:]


def _upstream(pg_server: PgServer) -> Iterator[str]:
    with temp_database(pg_server, prefix="veil_fault") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id int, note text)")
        yield dsn


def _target(dsn: str) -> tuple[str, int]:
    params = conninfo_to_dict(dsn)
    return str(params.get("host") or "127.0.0.1"), int(str(params.get("port") or 5432))


@dataclass
class Rig:
    """One veil between two fault forwarders: client -> client_fwd -> veil -> upstream_fwd -> PostgreSQL."""

    veil: VeilProcess
    client_fwd: Forwarder
    upstream_fwd: Forwarder
    dsn: str


@pytest.fixture(scope="module")
def rig(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Faults are keyed by application_name, so both sides share one veil (one start: faster)."""
    for dsn in _upstream(pg_server):
        upstream_fwd = Forwarder(_target(dsn)).start()
        via = make_conninfo(dsn, host="127.0.0.1", port=str(upstream_fwd.port), sslmode="disable")
        config = basic_config(via, [(USER, PASSWORD, [], "human")], listen=FAST_STOP, upstream={
            "postgres": basic_config(via, [])["upstream"]["postgres"], "connect_timeout": "3s"})
        try:
            with running_veil(config, tmp_path=tmp_path_factory.mktemp("fault-rig")) as veil:
                client_fwd = Forwarder((veil.host, veil.port)).start()
                try:
                    yield Rig(veil, client_fwd, upstream_fwd, dsn)
                finally:
                    client_fwd.kill()
        finally:
            upstream_fwd.kill()


@pytest.fixture
def client_side(rig: Rig) -> Side:
    return Side(rig.veil, rig.client_fwd, rig.dsn, rig.client_fwd.port)


@pytest.fixture
def upstream_side(rig: Rig) -> Side:
    return Side(rig.veil, rig.upstream_fwd, rig.dsn, rig.veil.port)


def copy_all(conn: psycopg.Connection[Any]) -> None:
    copy_in(conn, ROWS)
    conn.commit()


def copy_in(conn: psycopg.Connection[Any], rows: int) -> None:
    with conn.cursor() as cur, cur.copy("COPY t (id, note) FROM STDIN") as copy:
        for i in range(rows):
            copy.write_row((i, "y" * 100))


# ------------------------------------------------------------------ both sides: split and merge


@pytest.mark.parametrize("side_name", ["client_side", "upstream_side"])
@pytest.mark.parametrize("mode", ["split", "merge"])
def test_split_and_merged_packets_change_nothing(side_name: str, mode: str,
                                                 request: pytest.FixtureRequest) -> None:
    """Split: every byte veil *receives* on that side arrives alone (what veil parses; the other
    direction would test libpq or PostgreSQL, and costs seconds on a loaded machine).  Merge: both
    directions are held until quiet for 20 ms, so pipelined messages arrive in one segment."""
    side: Side = request.getfixturevalue(side_name)
    if mode == "split":
        inbound = {"to_target" if side_name == "client_side" else "to_client": Direction(split=True)}
        app, fault = side.fault(**inbound)
    else:
        app, fault = side.fault(to_target=Direction(merge=0.02), to_client=Direction(merge=0.02))
    with psycopg.connect(side.dsn(app)) as conn:  # startup, SCRAM (client side), queries, COPY both ways
        assert conn.execute("SELECT g, md5(g::text) FROM generate_series(1, 5) g").fetchall() == [
            (g, hashlib.md5(str(g).encode()).hexdigest()) for g in range(1, 6)]
        copy_in(conn, 5)
        with conn.cursor() as cur, cur.copy("COPY (SELECT count(*) FROM t) TO STDOUT") as copy:
            assert b"".join(bytes(b) for b in copy).strip().isdigit()
        conn.rollback()
    assert fault.connections == 1
    side.assert_recovered(app)


# ------------------------------------------------------------------ client side: the client vanishes


@pytest.mark.parametrize("cut", [
    {"to_target": Direction(cut_after=9)},  # inside the startup packet
    # veil's 2nd authentication message is SASLContinue: the client is gone before its proof
    {"to_client": Direction(cut_on=b"R", cut_nth=2)},
], ids=["in-startup-packet", "during-scram"])
def test_client_cut_while_logging_in(client_side: Side, cut: dict[str, Direction]) -> None:
    app, fault = client_side.fault(**cut)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(client_side.dsn(app))
    assert fault.cut.is_set()
    client_side.assert_recovered(app)


def test_client_cut_mid_result(client_side: Side) -> None:
    app, fault = client_side.fault(to_client=Direction(cut_on=b"D", cut_nth=50))
    with psycopg.connect(client_side.dsn(app)) as conn, pytest.raises(psycopg.OperationalError):
        conn.execute(WIDE).fetchall()
    assert fault.cut.is_set()
    client_side.assert_recovered(app)  # includes: the upstream query was cancelled, its backend closed


def test_client_cut_mid_copy_out(client_side: Side) -> None:
    app, fault = client_side.fault(to_client=Direction(cut_on=b"d", cut_nth=50))
    with (psycopg.connect(client_side.dsn(app)) as conn, pytest.raises(psycopg.OperationalError),
          conn.cursor() as cur, cur.copy(COPY_OUT) as copy):
        for _ in copy:
            pass
    assert fault.cut.is_set()
    client_side.assert_recovered(app)


def test_client_cut_mid_copy_in(client_side: Side) -> None:
    app, fault = client_side.fault(to_target=Direction(cut_on=b"d", cut_nth=50))
    with psycopg.connect(client_side.dsn(app)) as conn, pytest.raises(psycopg.OperationalError):
        copy_in(conn, ROWS)
        conn.commit()
    assert fault.cut.is_set()
    client_side.assert_recovered(app)
    with psycopg.connect(client_side.direct_dsn) as conn:  # the half-sent COPY was rolled back
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


# ------------------------------------------------------------------ upstream side: the database vanishes


def upstream_lost(side: Side, app: str, action: Callable[[psycopg.Connection[Any]], None] | None) -> str:
    """Run ``action`` (None: just log in) and return the FATAL veil sent; it must come quickly."""
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as lost, psycopg.connect(side.dsn(app)) as conn:
        assert action is not None
        action(conn)
    assert time.monotonic() - started < 5, "the client waited for a dead upstream"
    return str(lost.value)


def test_upstream_cut_in_startup_packet(upstream_side: Side) -> None:
    app, fault = upstream_side.fault(to_target=Direction(cut_after=12))
    text = upstream_lost(upstream_side, app, None)
    assert fault.cut.is_set()
    assert "upstream database is unavailable" in text, text
    upstream_side.assert_recovered(app)


def test_upstream_cut_in_authentication(upstream_side: Side) -> None:
    app, fault = upstream_side.fault(to_client=Direction(cut_on=b"R"))
    text = upstream_lost(upstream_side, app, None)
    assert fault.cut.is_set()
    assert "upstream database is unavailable" in text, text
    upstream_side.assert_recovered(app)


def _fatal_08006(side: Side, app: str, sql: str) -> None:
    """The client reads a FATAL with SQLSTATE 08006 naming the upstream, then the socket closes."""
    with RawSession(side.veil.host, side.veil.port) as raw:
        messages = raw.login(USER, PASSWORD, side.veil.upstream_dbname, application_name=app)
        assert messages[-1][0] == b"Z", messages
        raw.send(raw.message(b"Q", sql.encode() + b"\0"))
        out = []
        while (msg := raw.read_message()) is not None:
            out.append(msg)
        errors = [RawSession.error_fields(body) for kind, body in out if kind == b"E"]
        assert errors and (errors[-1]["S"], errors[-1]["C"]) == ("FATAL", "08006"), errors
        assert "upstream" in errors[-1]["M"], errors


@pytest.mark.parametrize("what", ["wide", "copy"])
def test_upstream_cut_mid_result_and_mid_copy_out(upstream_side: Side, what: str) -> None:
    kind = b"D" if what == "wide" else b"d"
    app, fault = upstream_side.fault(to_client=Direction(cut_on=kind, cut_nth=50))
    _fatal_08006(upstream_side, app, WIDE if what == "wide" else COPY_OUT)
    assert fault.cut.is_set()
    upstream_side.assert_recovered(app)


def test_upstream_cut_mid_copy_in(upstream_side: Side) -> None:
    """libpq reports the lost write; at the byte level veil's FATAL 08006 is there to read."""
    app, fault = upstream_side.fault(to_target=Direction(cut_on=b"d", cut_nth=50))
    upstream_lost(upstream_side, app, copy_all)
    assert fault.cut.is_set()
    app, fault = upstream_side.fault(to_target=Direction(cut_on=b"d", cut_nth=50))
    with RawSession(upstream_side.veil.host, upstream_side.veil.port) as raw:
        messages = raw.login(USER, PASSWORD, upstream_side.veil.upstream_dbname, application_name=app)
        assert messages[-1][0] == b"Z", messages
        raw.send(raw.message(b"Q", b"COPY t (id, note) FROM STDIN\0"))
        assert raw.read_message() is not None  # CopyInResponse
        raw.send(b"".join(raw.message(b"d", f"{i}\t{'y' * 100}\n".encode()) for i in range(60)))
        out = []
        while (msg := raw.read_message()) is not None:
            out.append(msg)
    errors = [RawSession.error_fields(body) for kind, body in out if kind == b"E"]
    assert errors and (errors[-1]["S"], errors[-1]["C"]) == ("FATAL", "08006"), out
    assert fault.cut.is_set()
    upstream_side.assert_recovered(app)
    with psycopg.connect(upstream_side.direct_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
