"""Hostile or broken clients: veil drops them and nobody else notices.

Every test here opens a *witness* session through veil first; after the bad client
has done its worst, the witness must still answer and the veil process must still
run.  What the bad client gets back is at most an ErrorResponse before the
connection closes: never an authentication request after garbage, never a hang.
"""

from __future__ import annotations

import struct
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.proxy import PassThroughSetup, RawSession, pass_through_veil
from tests.support.services import PgServer

pytestmark = pytest.mark.timeout(60)

V3 = 3 << 16


@pytest.fixture(scope="module")
def setup(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PassThroughSetup]:
    with pass_through_veil(pg_server, tmp_path_factory.mktemp("veil")) as s:
        yield s


@pytest.fixture(autouse=True)
def witness(setup: PassThroughSetup) -> Iterator[psycopg.Connection]:
    """A session open before the bad client arrives; it must be unharmed afterwards."""
    with psycopg.connect(setup.veil_dsn(), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE w (v integer)")
        conn.execute("INSERT INTO w VALUES (1)")
        yield conn
        assert setup.veil.alive(), setup.veil.logs()
        assert conn.execute("SELECT v FROM w").fetchone() == (1,), "the witness session was disturbed"
    with psycopg.connect(setup.veil_dsn()) as fresh:
        assert fresh.execute("SELECT 2").fetchone() == (2,), "new sessions stopped working"


def raw(setup: PassThroughSetup) -> RawSession:
    return RawSession(setup.veil.host, setup.veil.port, timeout=10)


def logged_in(setup: PassThroughSetup, **params: str) -> RawSession:
    session = raw(setup)
    messages = session.login(setup.user, setup.password, setup.veil.upstream_dbname, **params)
    assert messages and messages[-1][0] == b"Z", messages
    return session


def assert_dropped(session: RawSession, expected_sqlstate: str | None = None) -> None:
    """Only ErrorResponses may come back, then the connection must close."""
    messages = []
    with session:
        while (msg := session.read_message()) is not None:
            messages.append(msg)
        assert session.closed_by_peer(timeout=5)
    assert all(kind == b"E" for kind, _ in messages), messages
    if expected_sqlstate is not None and messages:
        assert RawSession.error_fields(messages[0][1]).get("C") == expected_sqlstate, messages


def upstream_backends(setup: PassThroughSetup, application_name: str) -> int:
    with psycopg.connect(setup.direct_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (application_name,)).fetchone()
    assert row is not None
    return int(row[0])


def wait_for(condition: object, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\nHost: veil\r\n\r\n",
        bytes.fromhex("16030100a1010000 9d0303") + b"\x00" * 40,  # a TLS ClientHello sent without SSLRequest
        b"\x00\x00\x00\x08\x00\x00\x00\x00",  # a startup packet with version 0.0 and nothing else
        b"\x00\x00\x00\x02",  # a length shorter than the length field itself
        bytes(range(256)) * 4,
    ],
    ids=["http", "tls-hello", "version-0", "length-2", "binary-noise"],
)
def test_garbage_first_packet(setup: PassThroughSetup, payload: bytes) -> None:
    session = raw(setup)
    session.send(payload)
    assert_dropped(session)


@pytest.mark.parametrize(
    "version", [2 << 16, 4 << 16, 1234, (3 << 16) | 0xFFFF], ids=["2.0", "4.0", "0.1234", "3.65535-ok"]
)
def test_unsupported_protocol_version(setup: PassThroughSetup, version: int) -> None:
    session = raw(setup)
    session.send(RawSession.startup_packet({"user": setup.user, "database": "x"}, version=version))
    if version >> 16 == 3:
        # a newer 3.x minor is negotiated down to 3.0 (NegotiateProtocolVersion), not refused
        with session:
            first = session.read_message()
            assert first is not None and first[0] == b"v", first
            assert struct.unpack("!I", first[1][:4])[0] == V3
        return
    assert_dropped(session, expected_sqlstate="0A000")


@pytest.mark.parametrize("code", [80877103, 80877104], ids=["SSLRequest", "GSSENCRequest"])
def test_encryption_requests_declined_then_login(setup: PassThroughSetup, code: int) -> None:
    """Without ``tls:`` veil answers 'N' to both and the client carries on in the clear."""
    with raw(setup) as session:
        session.send(struct.pack("!II", 8, code))
        assert session.read_byte() == b"N"
        messages = session.login(setup.user, setup.password, setup.veil.upstream_dbname)
        assert messages[-1][0] == b"Z", messages
        assert RawSession.data_rows(session.query("SELECT 'clear'")) == [["clear"]]


def test_forged_cancel_request_is_ignored(setup: PassThroughSetup, witness: psycopg.Connection) -> None:
    """A CancelRequest with the right pid but a wrong secret cancels nothing."""
    pid = witness.info.backend_pid
    result: dict[str, object] = {}

    def sleep() -> None:
        try:
            result["row"] = witness.execute("SELECT pg_sleep(1), 'finished'").fetchone()
        except psycopg.Error as exc:  # pragma: no cover - the failure being tested for
            result["error"] = exc

    sleeper = threading.Thread(target=sleep)
    sleeper.start()
    time.sleep(0.3)
    for secret in (0, 1, 0x7FFFFFFF):
        with raw(setup) as session:
            session.send(struct.pack("!IIII", 16, 80877102, pid, secret))
            assert session.closed_by_peer(timeout=5)
    sleeper.join(10)
    assert result == {"row": ("", "finished")}


def test_startup_length_over_limit(setup: PassThroughSetup) -> None:
    session = raw(setup)
    session.send(struct.pack("!II", 0x7FFFFFFF, V3) + b"user\0")
    assert_dropped(session)


def test_message_length_over_limit_after_login(setup: PassThroughSetup) -> None:
    marker = f"huge_{uuid.uuid4().hex[:8]}"
    session = logged_in(setup, application_name=marker)
    session.send(b"Q" + struct.pack("!I", 0x7FFFFFF0) + b"SELECT ")
    assert_dropped(session, expected_sqlstate="08P01")
    assert wait_for(lambda: upstream_backends(setup, marker) == 0), "upstream connection left open"


@pytest.mark.parametrize(
    "payload", [b"\x01\x00\x00\x00\x04", b"Q\x00\x00\x00\x03"], ids=["unknown-type", "length-3"]
)
def test_malformed_message_after_login(setup: PassThroughSetup, payload: bytes) -> None:
    session = logged_in(setup)
    session.send(payload)
    assert_dropped(session)


def test_truncated_startup_then_disconnect(setup: PassThroughSetup) -> None:
    with raw(setup) as session:
        packet = RawSession.startup_packet({"user": setup.user, "database": "x"})
        session.send(packet[: len(packet) // 2])


def test_truncated_message_then_disconnect(setup: PassThroughSetup) -> None:
    marker = f"trunc_{uuid.uuid4().hex[:8]}"
    with logged_in(setup, application_name=marker) as session:
        assert upstream_backends(setup, marker) == 1
        session.send(b"Q" + struct.pack("!I", 100) + b"SELECT 1")
    assert wait_for(lambda: upstream_backends(setup, marker) == 0), "upstream connection left open"


def test_client_disconnect_mid_query_cancels_upstream(setup: PassThroughSetup) -> None:
    """The upstream statement is cancelled and its connection closed, not left running for 60 s."""
    marker = f"gone_{uuid.uuid4().hex[:8]}"
    with logged_in(setup, application_name=marker) as session:
        session.send(RawSession.message(b"Q", b"SELECT pg_sleep(60)\0"))
        assert wait_for(lambda: upstream_backends(setup, marker) == 1)
        time.sleep(0.3)  # the statement is now running upstream
    assert wait_for(lambda: upstream_backends(setup, marker) == 0, timeout=10), \
        "the upstream backend outlived its client"


def test_many_bad_clients_at_once(setup: PassThroughSetup) -> None:
    """A burst of half-open and garbage connections does not starve real sessions."""
    sessions = [raw(setup) for _ in range(30)]
    for i, session in enumerate(sessions):
        if i % 3 == 0:
            session.send(b"\x00\x00")  # half a length, then silence
        elif i % 3 == 1:
            session.send(b"garbage!" * 10)
    with psycopg.connect(setup.veil_dsn(), connect_timeout=10) as conn:
        assert conn.execute("SELECT 3").fetchone() == (3,)
    for session in sessions:
        session.close()
