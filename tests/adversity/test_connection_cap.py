"""The global connection cap (``limits.max_connections``): SQLSTATE 53300, and slots come back.

Why: the per-identity limit stops one user from exhausting veil, the global cap stops
everyone together from exhausting it (and the upstream's ``max_connections`` behind it).
A cap is only useful if it is (a) reported the way PostgreSQL reports its own
(FATAL 53300, so pools back off instead of treating it as an auth failure), (b) counts
logins still in progress - otherwise a burst of simultaneous logins overshoots it - and
(c) gives the slot back as soon as a client leaves, whether it logged out cleanly or
vanished in the middle of its login.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.support.proxy import RawSession, VeilProcess, basic_config, running_veil
from tests.support.services import PgServer, temp_database

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "capped", "pw-capped-1"


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def capped(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VeilProcess]:
    """One veil for the file (each test leaves every slot free again, which it asserts)."""
    with temp_database(pg_server, prefix="veil_cap") as dsn:
        config = basic_config(dsn, [(USER, PASSWORD, [], "human")], limits={"max_connections": 2},
                              listen={"postgres": "127.0.0.1:0", "shutdown_grace": "0s"})
        with running_veil(config, tmp_path=tmp_path_factory.mktemp("cap")) as veil:
            yield veil


def refusal(veil: VeilProcess) -> dict[str, str]:
    """The error fields a new login gets (asserting it is refused)."""
    with RawSession(veil.host, veil.port) as session:
        messages = session.login(USER, PASSWORD, veil.upstream_dbname)
        assert messages and messages[-1][0] == b"E", messages
        assert session.closed_by_peer()
        return RawSession.error_fields(messages[-1][1])


def can_log_in(veil: VeilProcess) -> bool:
    try:
        with psycopg.connect(veil.dsn(USER, PASSWORD)) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def both_slots_free(veil: VeilProcess) -> bool:
    """Two sessions at once can log in (the previous test's sessions have all ended)."""
    opened = []
    try:
        for _ in range(2):
            opened.append(psycopg.connect(veil.dsn(USER, PASSWORD)))
        return True
    except psycopg.OperationalError:
        return False
    finally:
        for conn in opened:
            conn.close()


def test_cap_answers_53300_and_a_slot_frees_when_a_client_leaves(capped: VeilProcess) -> None:
    first = psycopg.connect(capped.dsn(USER, PASSWORD))
    second = psycopg.connect(capped.dsn(USER, PASSWORD))
    try:
        fields = refusal(capped)
        assert (fields["S"], fields["C"]) == ("FATAL", "53300"), fields
        assert "too many clients" in fields["M"] and "limits.max_connections is 2" in fields["M"], fields
        with pytest.raises(psycopg.OperationalError, match="too many clients already"):
            psycopg.connect(capped.dsn(USER, PASSWORD))
        first.close()
        eventually(lambda: can_log_in(capped))
        assert second.execute("SELECT 2").fetchone() == (2,)  # the survivors were never disturbed
    finally:
        first.close()
        second.close()
    assert capped.alive()


def test_logins_in_progress_count_and_a_vanished_login_frees_its_slot(capped: VeilProcess) -> None:
    """Two clients stuck mid-SCRAM hold both slots; the third is refused; hanging up frees them."""
    eventually(lambda: both_slots_free(capped))
    stuck = [RawSession(capped.host, capped.port) for _ in range(2)]
    try:
        for session in stuck:
            session.send(RawSession.startup_packet({"user": USER, "database": capped.upstream_dbname}))
            kind, _ = session.read_message() or (b"", b"")
            assert kind == b"R"  # AuthenticationSASL: veil now waits for the client's SCRAM message
        fields = refusal(capped)
        assert fields["C"] == "53300", fields
    finally:
        for session in stuck:
            session.close()
    eventually(lambda: can_log_in(capped))
    assert "session failed" not in capped.logs()
