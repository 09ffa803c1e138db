"""Run a real ``veil serve`` in a subprocess for end-to-end tests.

Every e2e and adversity test talks to veil the way a user would: a config file on
disk, ``python -m veil serve -c FILE`` as its own process, real clients over real
sockets.  This module is the one place that knows how to do that, so each test only
says *what* config it wants::

    cfg = basic_config(pg_dsn, [("alice", "pw-alice", ["analysts"], "human")])
    with running_veil(cfg, tmp_path=tmp_path) as veil:
        with psycopg.connect(veil.dsn("alice", "pw-alice")) as conn:
            ...

Guarantees:

* ``listen.postgres`` (and ``listen.http`` when the config has that key) are replaced
  by free loopback ports, so tests never collide with each other or a running demo.
* ``running_veil`` returns only once the postgres port accepts connections; if the
  process dies or does not listen within ``start_timeout``, the error carries the
  process's own output (the only useful clue in a CI log).
* The process is always stopped on exit from the ``with`` block, also on test
  failure: SIGTERM first (veil's graceful shutdown), SIGKILL after ``stop_timeout``.
* The process runs with ``cwd=tmp_path``, so relative paths in the config (the
  default sqlite audit store, spool directories) land in the test's temp dir.
* A config without a ``keys`` section gets a fresh key set (``veil keys generate``
  into ``tmp_path``), so masking and audit signing work without each test caring;
  pass ``keys`` explicitly (even ``{}``) to control it.

Passwords: ``basic_config`` never writes literal passwords.  Each user's password is
an ``env:`` reference whose variable name carries the password hex-encoded
(``env:VEIL_TEST_PW_<hex>``); ``running_veil`` sees such references anywhere in the
config and sets the variables for the child process.  That keeps configs valid
whether or not the loader accepts literal passwords, and survives callers copying
or editing the returned dict.  Extra variables can be passed with ``env=``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.services import PgServer, free_port, temp_database

PASSWORD_ENV_PREFIX = "VEIL_TEST_PW_"
_PASSWORD_REF = re.compile(r"^env:(" + PASSWORD_ENV_PREFIX + r"([0-9a-f]+))$")

# (name, password, groups, kind) as in the contract
UserSpec = tuple[str, str, Sequence[str], str]


def password_ref(password: str) -> str:
    """An ``env:`` reference that ``running_veil`` resolves back to ``password``."""
    return f"env:{PASSWORD_ENV_PREFIX}{password.encode().hex()}"


def url_dsn(dsn: str) -> str:
    """A ``postgresql://`` URL for any libpq DSN (``key=value`` or URL).

    INTERFACE.md shows the upstream as a URL; converting here means the config
    loader only ever has to understand that one form.
    """
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    user = quote(params.pop("user", ""), safe="")
    password = params.pop("password", None)
    host = params.pop("host", "127.0.0.1")
    port = params.pop("port", "5432")
    dbname = quote(params.pop("dbname", "postgres"), safe="")
    auth = user + (f":{quote(password, safe='')}" if password is not None else "")
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(params.items()))
    return f"postgresql://{auth}@{host}:{port}/{dbname}" + (f"?{query}" if query else "")


def basic_config(upstream_dsn: str, users: Sequence[UserSpec], **overrides: Any) -> dict[str, Any]:
    """A minimal, valid veil config: the upstream, static users, one permissive policy.

    The policy (``test-pass-through``) grants every listed user read-write with
    ``mask: {default: none, secret: none}``, so results through veil equal direct results.  Any
    top-level key in ``overrides`` replaces the generated one (e.g. ``policies=[...]``).
    """
    config: dict[str, Any] = {
        "listen": {"postgres": "127.0.0.1:0"},
        "upstream": {"postgres": url_dsn(upstream_dsn)},
        "identity": {
            "users": [
                {"name": name, "password": password_ref(password), "groups": list(groups), "kind": kind}
                for name, password, groups, kind in users
            ]
        },
        "policies": [
            {
                "name": "test-pass-through",
                "when": {"identities": [name for name, *_ in users]},
                "access": "read-write",
                # secrets are masked unless named explicitly (the secret rule), so both keys
                "mask": {"default": "none", "secret": "none"},
            }
        ],
    }
    config.update(overrides)
    return config


@dataclass
class VeilProcess:
    """A running ``veil serve``; see the module docstring for the guarantees."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    http_port: int | None
    config_path: Path
    upstream_dbname: str
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    def dsn(self, user: str, password: str, dbname: str | None = None, **params: Any) -> str:
        """A libpq DSN to veil's postgres listener (dbname defaults to the upstream's)."""
        return make_conninfo(
            host=self.host,
            port=str(self.port),
            user=user,
            password=password,
            dbname=dbname or self.upstream_dbname,
            connect_timeout="10",
            **{k: str(v) for k, v in params.items()},
        )

    def url(self, user: str, password: str, dbname: str | None = None) -> str:
        """The same as ``dsn`` as a URL (asyncpg wants that form)."""
        db = quote(dbname or self.upstream_dbname, safe="")
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{db}"

    def logs(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit code.  Idempotent."""
        if not self._stopped:
            self._stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        return int(self.proc.returncode)


def _with_ports(config: dict[str, Any]) -> tuple[dict[str, Any], int, int | None]:
    config = copy.deepcopy(config)
    listen = dict(config.get("listen") or {})
    port = free_port()
    listen["postgres"] = f"127.0.0.1:{port}"
    http_port = None
    if "http" in listen:
        http_port = free_port()
        listen["http"] = f"127.0.0.1:{http_port}"
    config["listen"] = listen
    return config, port, http_port


def _with_keys(config: dict[str, Any], directory: Path) -> dict[str, Any]:
    if "keys" in config:
        return config
    from veil.cli.keys import generate_keys

    paths = generate_keys(directory)
    return {**config, "keys": {"masking": f"file:{paths['masking.key']}",
                               "audit_signing": f"file:{paths['audit.key']}"}}


def _password_env(config: dict[str, Any]) -> dict[str, str]:
    """Variables for every ``env:VEIL_TEST_PW_<hex>`` reference anywhere in the config."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and (m := _PASSWORD_REF.match(node)):
            found[m.group(1)] = bytes.fromhex(m.group(2)).decode()

    walk(config)
    return found


def _upstream_dbname(config: dict[str, Any]) -> str:
    upstream = (config.get("upstream") or {}).get("postgres", "")
    with contextlib.suppress(Exception):
        return str(conninfo_to_dict(upstream).get("dbname") or "postgres")
    return "postgres"


def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def start_veil(
    config: dict[str, Any],
    *,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    start_timeout: float = 20.0,
    args: Sequence[str] = (),
    command: Sequence[str] | None = None,
) -> VeilProcess:
    """Start ``veil serve`` and wait until it listens; the caller must ``stop()`` it.

    Prefer ``running_veil``; this exists for tests that restart veil themselves.
    ``command`` replaces ``-m veil serve -c`` (the interpreter arguments before the
    config path), e.g. to run the relay with another pipeline in a benchmark.
    """
    config, port, http_port = _with_ports(config)
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = _with_keys(config, tmp_path / f"keys-{port}")
    config_path = tmp_path / f"veil-{port}.yaml"
    # json round-trip: plain types only, so safe_dump never meets a subclass
    config_path.write_text(yaml.safe_dump(json.loads(json.dumps(config)), sort_keys=False))
    log_path = tmp_path / f"veil-{port}.log"
    child_env = dict(os.environ)
    child_env.update(_password_env(config))
    child_env.update(env or {})
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, *(command or ("-m", "veil", "serve", "-c")), str(config_path), *args],
            cwd=tmp_path,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    veil = VeilProcess(proc, "127.0.0.1", port, http_port, config_path, _upstream_dbname(config), log_path)
    deadline = time.monotonic() + start_timeout
    while not _accepts(veil.host, port):
        if proc.poll() is not None:
            raise RuntimeError(f"veil serve exited with {proc.returncode} before listening:\n{veil.logs()}")
        if time.monotonic() > deadline:
            veil.stop()
            raise RuntimeError(
                f"veil serve did not listen on port {port} within {start_timeout}s:\n{veil.logs()}"
            )
        time.sleep(0.05)
    return veil


@contextlib.contextmanager
def running_veil(
    config: dict[str, Any],
    *,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    start_timeout: float = 20.0,
) -> Iterator[VeilProcess]:
    """``veil serve`` with ``config`` for the duration of the block; always stopped after."""
    veil = start_veil(config, tmp_path=tmp_path, env=env, start_timeout=start_timeout)
    try:
        yield veil
    finally:
        veil.stop()


@dataclass(frozen=True)
class PassThroughSetup:
    """A fresh database reachable both directly and through a permissive veil."""

    direct_dsn: str
    veil: VeilProcess
    user: str
    password: str

    def veil_dsn(self, **params: Any) -> str:
        return self.veil.dsn(self.user, self.password, **params)

    def veil_url(self) -> str:
        return self.veil.url(self.user, self.password)


@contextlib.contextmanager
def pass_through_veil(server: PgServer, tmp_path: Path, user: str = "compat") -> Iterator[PassThroughSetup]:
    """One database and one veil in front of it (read-write, nothing masked).

    For compatibility suites: the same statements run directly and through veil must
    give the same results.  Module-scoped fixtures use it so a test file starts veil once.
    """
    password = f"pw-{user}-secret"
    with temp_database(server, prefix="veil_c") as direct_dsn:
        cfg = basic_config(direct_dsn, [(user, password, ["compat"], "human")])
        with running_veil(cfg, tmp_path=tmp_path) as veil:
            yield PassThroughSetup(direct_dsn, veil, user, password)


class RawSession:
    """A byte-level PostgreSQL client, for what real drivers refuse to send.

    Bad-input and fault tests need to send garbage, lie about lengths, hang up in
    the middle of a message, and read exactly which messages come back (SQLSTATE of
    a FATAL, whether the socket closed).  It speaks just enough protocol 3.0 for
    that: startup, SCRAM-SHA-256 (via scramp) or cleartext login, simple queries.
    """

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self._buf = b""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> RawSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    @staticmethod
    def message(kind: bytes, body: bytes) -> bytes:
        return kind + struct.pack("!I", len(body) + 4) + body

    @staticmethod
    def startup_packet(params: dict[str, str], version: int = 196608) -> bytes:
        body = struct.pack("!I", version)
        for key, value in params.items():
            body += key.encode() + b"\0" + value.encode() + b"\0"
        body += b"\0"
        return struct.pack("!I", len(body) + 4) + body

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        self._buf += chunk
        return bool(chunk)

    def read_byte(self) -> bytes:
        """One unframed byte (the answer to SSLRequest/GSSENCRequest); b"" on EOF."""
        while not self._buf:
            if not self._fill():
                return b""
        out, self._buf = self._buf[:1], self._buf[1:]
        return out

    def read_message(self) -> tuple[bytes, bytes] | None:
        """The next (type byte, body) from the server; None when it hung up."""
        while True:
            if len(self._buf) >= 5:
                (length,) = struct.unpack("!I", self._buf[1:5])
                if len(self._buf) >= length + 1:
                    kind, body = self._buf[:1], self._buf[5:length + 1]
                    self._buf = self._buf[length + 1:]
                    return kind, body
            if not self._fill():
                return None

    def read_until(self, kinds: bytes) -> list[tuple[bytes, bytes]]:
        """Messages up to and including the first whose type is in ``kinds`` (or EOF)."""
        out = []
        while (msg := self.read_message()) is not None:
            out.append(msg)
            if msg[0] in kinds:
                break
        return out

    def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """Whether the server closes the connection within ``timeout`` (messages are drained)."""
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
            return True
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(self.timeout)

    @staticmethod
    def error_fields(body: bytes) -> dict[str, str]:
        """ErrorResponse/NoticeResponse body -> {field code: text}, e.g. {"C": "08006", "S": "FATAL"}."""
        fields = {}
        for part in body.split(b"\0"):
            if part:
                fields[chr(part[0])] = part[1:].decode(errors="replace")
        return fields

    def login(self, user: str, password: str, database: str, **params: str) -> list[tuple[bytes, bytes]]:
        """Start up and authenticate; returns the messages up to ReadyForQuery or the first ErrorResponse."""
        import scramp

        self.send(self.startup_packet({"user": user, "database": database, **params}))
        scram: Any = None
        while True:
            msg = self.read_message()
            if msg is None:
                return []
            kind, body = msg
            if kind != b"R":
                rest = [msg] if kind in b"ZE" else [msg, *self.read_until(b"ZE")]
                return rest
            (code,) = struct.unpack("!I", body[:4])
            if code == 0:
                return self.read_until(b"ZE")
            if code == 3:
                self.send(self.message(b"p", password.encode() + b"\0"))
            elif code == 10:
                scram = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
                first = scram.get_client_first().encode()
                self.send(self.message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
            elif code == 11:
                scram.set_server_first(body[4:].decode())
                self.send(self.message(b"p", scram.get_client_final().encode()))
            elif code == 12:
                scram.set_server_final(body[4:].decode())
            else:
                raise AssertionError(f"unexpected authentication request {code}")

    def query(self, sql: str) -> list[tuple[bytes, bytes]]:
        """A simple Query; the messages up to ReadyForQuery (or EOF)."""
        self.send(self.message(b"Q", sql.encode() + b"\0"))
        return self.read_until(b"Z")

    @staticmethod
    def data_rows(messages: list[tuple[bytes, bytes]]) -> list[list[str | None]]:
        """Text-format DataRow values from a message list."""
        rows: list[list[str | None]] = []
        for kind, body in messages:
            if kind != b"D":
                continue
            (count,) = struct.unpack("!H", body[:2])
            pos = 2
            row: list[str | None] = []
            for _ in range(count):
                (size,) = struct.unpack("!i", body[pos:pos + 4])
                pos += 4
                if size < 0:
                    row.append(None)
                else:
                    row.append(body[pos:pos + size].decode())
                    pos += size
            rows.append(row)
        return rows
