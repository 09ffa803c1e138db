"""The database goes away: clients get a clear error, veil stays up, recovery is automatic.

The shared test PostgreSQL must not be restarted, so veil is pointed at a small TCP
forwarder in front of it; stopping the forwarder (listener and every open
connection) is, to veil, exactly an upstream crash, and starting it again on the
same port is the restart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.forwarder import Forwarder
from tests.support.proxy import RawSession, VeilProcess, basic_config, running_veil
from tests.support.services import free_port

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "faulty", "pw-faulty"


@pytest.fixture
def forwarder(pg_dsn: str) -> Iterator[Forwarder]:
    params = conninfo_to_dict(pg_dsn)
    fwd = Forwarder((str(params.get("host") or "127.0.0.1"), int(str(params.get("port") or 5432))))
    fwd.start()
    yield fwd
    fwd.kill()


def via(dsn: str, port: int) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    params.update(host="127.0.0.1", port=str(port))
    return make_conninfo(**params)


def login(veil: VeilProcess) -> tuple[RawSession, list[tuple[bytes, bytes]]]:
    session = RawSession(veil.host, veil.port)
    return session, session.login(USER, PASSWORD, veil.upstream_dbname)


def test_upstream_down_at_connect(pg_dsn: str, tmp_path: Path) -> None:
    dead = via(pg_dsn, free_port()) + " password=upstream-s3cret"
    with running_veil(basic_config(dead, [(USER, PASSWORD, [], "human")]), tmp_path=tmp_path) as veil:
        session, messages = login(veil)
        with session:
            assert messages and messages[-1][0] == b"E", messages
            fields = RawSession.error_fields(messages[-1][1])
            assert fields["S"] == "FATAL" and fields["C"] == "08006", fields
            assert "upstream" in fields["M"].lower() or "database" in fields["M"].lower(), fields
            assert session.closed_by_peer()
        with pytest.raises(psycopg.OperationalError) as err:
            psycopg.connect(veil.dsn(USER, PASSWORD))
        assert fields["M"] in str(err.value)  # libpq shows veil's FATAL message to the user
        assert "upstream-s3cret" not in str(err.value) + fields["M"] + veil.logs()
        assert veil.alive(), veil.logs()


def test_upstream_restart_while_sessions_open(pg_dsn: str, forwarder: Forwarder, tmp_path: Path) -> None:
    cfg = basic_config(via(pg_dsn, forwarder.port), [(USER, PASSWORD, [], "human")])
    with running_veil(cfg, tmp_path=tmp_path) as veil:
        busy = [psycopg.connect(veil.dsn(USER, PASSWORD), autocommit=True) for _ in range(2)]
        for conn in busy:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        idle, messages = login(veil)
        assert messages[-1][0] == b"Z", messages

        forwarder.kill()  # the "crash": every upstream connection drops at once

        with idle:  # an idle session is told, not left hanging until its next query
            dropped = []
            while (msg := idle.read_message()) is not None:
                dropped.append(msg)
            errors = [RawSession.error_fields(body) for kind, body in dropped if kind == b"E"]
            assert errors and errors[-1]["S"] == "FATAL" and errors[-1]["C"][:2] in ("08", "57"), dropped
        for conn in busy:
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
            assert time.monotonic() - started < 10
            conn.close()

        forwarder.start()  # the "restart" on the same port
        marker = f"after_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(veil.dsn(USER, PASSWORD, application_name=marker)) as conn:
            assert conn.execute("SELECT current_setting('application_name')").fetchone() == (marker,)
        assert veil.alive(), veil.logs()


def test_upstream_refuses_login(pg_dsn: str, tmp_path: Path) -> None:
    """A wrong upstream role: the client learns the session cannot be served; veil keeps running."""
    bad_role = pg_dsn + f" user=no_such_role_{uuid.uuid4().hex[:6]}"
    with running_veil(basic_config(bad_role, [(USER, PASSWORD, [], "human")]), tmp_path=tmp_path) as veil:
        session, messages = login(veil)
        with session:
            assert messages and messages[-1][0] == b"E", messages
            assert RawSession.error_fields(messages[-1][1])["S"] == "FATAL"
        assert veil.alive(), veil.logs()
