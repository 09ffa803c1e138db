"""A client that stops reading mid-result: veil applies back-pressure instead of buffering.

Why: PostgreSQL streams a big result as fast as the socket takes it.  If veil kept
reading the upstream while its client does not read, the whole result would pile up
in veil's memory; one slow (or malicious) client could then exhaust the proxy that
every other session depends on.  Back-pressure means: once the client's send buffer
is full, veil stops reading the upstream, PostgreSQL blocks, and memory stays flat.

The client here is a raw socket with a small receive buffer that logs in, sends one
query for ~100 MB of rows and then reads nothing for a few seconds while the test
samples veil's RSS (psutil).  Then it reads everything: every row must arrive, and
the session must still run queries afterwards.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import psutil

from tests.support.proxy import RawSession, basic_config, running_veil

ROWS, WIDTH = 100_000, 1000  # ~100 MB of DataRows
RSS_BOUND = 40 * 1024 * 1024  # far below the result size: only a bounded buffer may be held
PAUSE = 4.0


def _rss(proc: psutil.Process) -> int:
    return int(proc.memory_info().rss)


def test_stalled_client_does_not_grow_veil_memory_and_resumes(pg_dsn: str, tmp_path: Path) -> None:
    cfg = basic_config(pg_dsn, [("slow", "slow-pw-1", ["g"], "human")])
    with running_veil(cfg, tmp_path=tmp_path) as veil:
        proc = psutil.Process(veil.proc.pid)
        with RawSession(veil.host, veil.port, timeout=30) as session:
            session.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            login = session.login("slow", "slow-pw-1", veil.upstream_dbname)
            assert login and login[-1][0] == b"Z", login
            assert session.query("SELECT 1")[-1][0] == b"Z"  # warm: plans, buffers, caches
            baseline = _rss(proc)
            session.send(
                session.message(
                    b"Q", f"SELECT repeat('x', {WIDTH}) FROM generate_series(1, {ROWS})".encode() + b"\0"
                )
            )
            peak = baseline
            deadline = time.monotonic() + PAUSE
            while time.monotonic() < deadline:
                peak = max(peak, _rss(proc))
                time.sleep(0.1)
            print(f"veil RSS {baseline / 2**20:.1f} MiB -> peak {peak / 2**20:.1f} MiB while stalled")
            assert peak - baseline < RSS_BOUND, (
                f"veil grew by {(peak - baseline) / 2**20:.1f} MiB while its client did not read "
                f"(result ~{ROWS * WIDTH / 2**20:.0f} MiB)"
            )

            rows, last = 0, b""
            while (msg := session.read_message()) is not None:
                kind, body = msg
                if kind == b"D":
                    rows += 1
                    if rows == 1:
                        (size,) = struct.unpack("!i", body[2:6])
                        assert size == WIDTH
                last = kind
                if kind in b"ZE":
                    break
            assert (rows, last) == (ROWS, b"Z")
            assert RawSession.data_rows(session.query("SELECT 'still here'")) == [["still here"]]
        assert veil.alive()
