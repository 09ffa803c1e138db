"""When veil insists on TLS: token logins from off-loopback, and ``tls.require``.

Why: a bearer token sent in cleartext over a network is a stolen token, so INTERFACE.md
makes TLS "required for token auth off-loopback"; a production user with ``tls:``
configured may also want to refuse every plaintext client (``tls.require: true``).
Both refusals must be explicit (the client is told to use TLS, not "wrong password")
and must come *before* the secret is sent.

A non-loopback peer is real here, not simulated: veil listens on 0.0.0.0 and the
client connects to this machine's own non-loopback IPv4 address, so the kernel picks
that address as the source and veil sees it as the peer.  ``tests/support/proxy.py``
always binds ``veil serve`` to 127.0.0.1, so the front end runs in-process here,
built from a parsed config by the same ``frontend_config`` that ``veil serve`` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.certs import self_signed
from tests.support.proxy import url_dsn
from tests.support.services import unavailable
from veil.app import frontend_config
from veil.config import DevIssuerSettings, parse_config
from veil.frontends.pg.server import PgFrontend
from veil.identity import ensure_key, issue_token

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "static-user", "static-user-pw-1"


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback (hostname, then ``ip -4 addr``)."""
    candidates: list[str] = []
    with contextlib.suppress(OSError):
        candidates += [str(a[4][0]) for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                             text=True, timeout=5, check=False).stdout
        candidates += [line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3]
    for address in candidates:
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


@pytest.fixture(scope="module")
def public_ip() -> str:
    address = non_loopback_ipv4()
    if address is None:
        unavailable("a non-loopback IPv4 address on this machine (needed to be a non-loopback client)")
    assert address is not None
    return address


@contextlib.contextmanager
def front_end(config: dict[str, Any], tmp_path: Path) -> Iterator[int]:
    """The PostgreSQL front end for ``config`` on 0.0.0.0 in a background loop; yields its port.

    Built by the same ``frontend_config`` as ``veil serve`` (so ``tls.require`` is honoured
    exactly as it is there).
    """
    settings = parse_config(yaml.safe_dump(config), source=str(tmp_path / "veil.yaml"))
    server = PgFrontend(frontend_config(settings))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        _, port = asyncio.run_coroutine_threadsafe(server.start("0.0.0.0", 0), loop).result(10)
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(server.shutdown(1.0), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def base_config(pg_dsn: str, tmp_path: Path, *, tls: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "listen": {"postgres": "127.0.0.1:0"},
        "upstream": {"postgres": url_dsn(pg_dsn)},
        "identity": {"users": [{"name": USER, "password": PASSWORD, "groups": [], "kind": "human"}]},
    }
    if tls is not None:
        cert, key = self_signed(tmp_path)
        config["tls"] = {"cert": f"file:{cert}", "key": f"file:{key}", **tls}
    return config


def dsn(host: str, port: int, pg_dsn: str, user: str, password: str, sslmode: str) -> str:
    dbname = str(conninfo_to_dict(pg_dsn).get("dbname") or "postgres")
    return make_conninfo(host=host, port=str(port), dbname=dbname, user=user, password=password,
                         sslmode=sslmode, connect_timeout="10")


# ------------------------------------------------------------------ token login off-loopback


@pytest.fixture
def token_setup(pg_dsn: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    dev = DevIssuerSettings(key=f"file:{tmp_path / 'dev-issuer.ed25519'}")
    ensure_key(dev)
    token = issue_token(dev, identity="tok-user", groups=["g"], kind="agent", ttl=300, clock=time.time)
    config = base_config(pg_dsn, tmp_path, tls={})
    config["identity"]["dev_issuer"] = {"key": dev.key}
    return config, token


def test_token_login_off_loopback_without_tls_is_refused_clearly(
    token_setup: tuple[dict[str, Any], str], pg_dsn: str, tmp_path: Path, public_ip: str
) -> None:
    config, token = token_setup
    with front_end(config, tmp_path) as port:
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(dsn(public_ip, port, pg_dsn, "tok-user", token, "disable"))
        text = str(refused.value)
        assert "token login requires TLS" in text and "non-loopback" in text, text
        assert "sslmode=require" in text, text
        assert token not in text
        # the same token over TLS from the same address works
        with psycopg.connect(dsn(public_ip, port, pg_dsn, "tok-user", token, "require")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.pgconn.ssl_in_use
        # and from loopback the plaintext token is still accepted (the documented exception)
        with psycopg.connect(dsn("127.0.0.1", port, pg_dsn, "tok-user", token, "disable")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_static_scram_login_off_loopback_without_tls_still_works(
    pg_dsn: str, tmp_path: Path, public_ip: str
) -> None:
    """SCRAM never sends the password, so the TLS rule is for tokens only."""
    with (front_end(base_config(pg_dsn, tmp_path, tls={}), tmp_path) as port,
          psycopg.connect(dsn(public_ip, port, pg_dsn, USER, PASSWORD, "disable")) as conn):
        assert conn.execute("SELECT 1").fetchone() == (1,)


# ------------------------------------------------------------------ tls.require


def test_tls_require_refuses_plaintext_and_serves_tls(pg_dsn: str, tmp_path: Path) -> None:
    with front_end(base_config(pg_dsn, tmp_path, tls={"require": True}), tmp_path) as port:
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(dsn("127.0.0.1", port, pg_dsn, USER, PASSWORD, "disable"))
        text = str(refused.value)
        assert "TLS required" in text and "tls.require" in text, text
        with psycopg.connect(dsn("127.0.0.1", port, pg_dsn, USER, PASSWORD, "require")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.pgconn.ssl_in_use
        # sslmode=prefer negotiates TLS, so it is served too
        with psycopg.connect(dsn("127.0.0.1", port, pg_dsn, USER, PASSWORD, "prefer")) as conn:
            assert conn.pgconn.ssl_in_use


def test_tls_require_defaults_to_off(pg_dsn: str, tmp_path: Path) -> None:
    with (front_end(base_config(pg_dsn, tmp_path, tls={}), tmp_path) as port,
          psycopg.connect(dsn("127.0.0.1", port, pg_dsn, USER, PASSWORD, "disable")) as conn):
        assert not conn.pgconn.ssl_in_use


def test_tls_require_must_be_a_boolean(pg_dsn: str, tmp_path: Path) -> None:
    from veil.errors import ConfigError

    config = base_config(pg_dsn, tmp_path, tls={"require": "always"})
    with pytest.raises(ConfigError) as bad:
        parse_config(yaml.safe_dump(config), source="veil.yaml")
    assert bad.value.key == "tls.require" and "true or false" in str(bad.value), str(bad.value)
