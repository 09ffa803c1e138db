"""Load: 1,000 idle connections + 100 busy ones through veil, and connect/disconnect churn.

``python -m bench.load [--idle 1000] [--active 100] [--seconds 30] [--cycles 100000]``

What it answers (issue 10): does veil stay responsive when many clients sit idle
while others work (p50/p99 latency of the busy ones), what one idle session costs in
veil's memory, and whether many short sessions leak file descriptors, threads or
memory (fd count, RSS before/after a connect/disconnect storm).

Setup: veil serves every client with its own upstream connection, so 1,100 clients
need 1,100 PostgreSQL backends; the shared test server allows 100.  The bench
therefore starts its own PostgreSQL (``initdb`` in a temp dir, ``max_connections``
sized to the load, fsync off) on a free port.  The idle clients are psycopg
connections held open by this process; the busy ones and the churn are ``pgbench``
(C, libpq, SCRAM through veil) so the client side costs little CPU on this 2-core box:
``-f select1.sql --protocol simple`` with a per-transaction log for the percentiles,
and ``-C`` (a new connection per transaction) for the cycles.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg.conninfo import make_conninfo
from tests.support.proxy import VeilProcess, basic_config, start_veil
from tests.support.services import free_port, port_open

from bench import machine, write_section

USER, PASSWORD = "load", "load-bench-pw"
SECTION = "Hardening"


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it: veil and pgbench too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def private_postgres(max_connections: int) -> Iterator[str]:
    """A throwaway PostgreSQL allowing ``max_connections``; yields a superuser DSN (trust on 127.0.0.1)."""
    bindir = Path(shutil.which("initdb") or "/usr/lib/postgresql/15/bin/initdb").parent
    workdir = Path(tempfile.mkdtemp(prefix="veil-load-pg-"))
    data, port = workdir / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={workdir} "
        f"-c max_connections={max_connections} -c shared_buffers=64MB -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(workdir / "pg.log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def veil_in_front(upstream: str, tmp: Path, max_connections: int, **start: Any) -> Iterator[VeilProcess]:
    """veil with the bench user; ``start`` goes to ``start_veil`` (e.g. ``command``/``env`` for a probe)."""
    config = basic_config(
        upstream, [(USER, PASSWORD, ["load"], "human")], limits={"max_connections": max_connections}
    )
    veil = start_veil(config, tmp_path=tmp, start_timeout=60, **start)
    try:
        yield veil
    finally:
        veil.stop()


def snapshot(pid: int) -> dict[str, float]:
    proc = psutil.Process(pid)
    return {"rss_mb": proc.memory_info().rss / 2**20, "fds": proc.num_fds(), "threads": proc.num_threads()}


def open_idle(veil: VeilProcess, count: int) -> list[psycopg.Connection[tuple[object, ...]]]:
    """``count`` logged-in sessions that then do nothing (8 at a time: SCRAM costs CPU on both sides)."""
    dsn = make_conninfo(veil.dsn(USER, PASSWORD), connect_timeout="60")

    def one(_: int) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(dsn, autocommit=True)
        conn.execute("SELECT 1")
        return conn

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def pgbench(veil: VeilProcess, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = workdir / "select1.sql"
    script.write_text("SELECT 1;\n")
    env = {**os.environ, "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "60"}
    cmd = [
        "pgbench",
        "-n",
        "-h",
        veil.host,
        "-p",
        str(veil.port),
        "-U",
        USER,
        "--protocol=simple",
        "-f",
        str(script),
        *args,
        veil.upstream_dbname,
    ]
    return subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, text=True, check=False)


def percentiles(log_dir: Path) -> tuple[float, float, float, int]:
    """p50, p99, max (ms) and count from pgbench per-transaction logs (field 3 is the latency in us)."""
    lat = sorted(
        int(line.split()[2]) / 1000
        for f in log_dir.glob("pgbench_log.*")
        for line in f.read_text().splitlines()
        if line
    )
    if not lat:
        return 0.0, 0.0, 0.0, 0
    return statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))], lat[-1], len(lat)


def active_run(veil: VeilProcess, workdir: Path, clients: int, seconds: int, name: str) -> dict[str, float]:
    log_dir = workdir / name
    log_dir.mkdir()
    proc = pgbench(veil, log_dir, "-c", str(clients), "-j", "2", "-T", str(seconds), "-l")
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed: {proc.stderr[-2000:]}")
    tps = float(m.group(1)) if (m := re.search(r"tps = ([\d.]+)", proc.stdout)) else 0.0
    failed = int(m.group(1)) if (m := re.search(r"number of failed transactions: (\d+)", proc.stdout)) else 0
    p50, p99, worst, count = percentiles(log_dir)
    return {
        "tps": tps,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": worst,
        "transactions": count,
        "failed": failed,
    }


def cycles_run(veil: VeilProcess, workdir: Path, cycles: int) -> tuple[dict[str, float], float, int]:
    clients = 4
    per_client = max(1, cycles // clients)
    started = time.monotonic()
    proc = pgbench(veil, workdir, "-C", "-c", str(clients), "-j", "2", "-t", str(per_client))
    elapsed = time.monotonic() - started
    done = (
        int(m.group(1))
        if (m := re.search(r"number of transactions actually processed: (\d+)", proc.stdout))
        else 0
    )
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return {"cycles_per_s": done / elapsed if elapsed else 0.0}, elapsed, done


def settle(pid: int, seconds: float = 3.0) -> dict[str, float]:
    time.sleep(seconds)  # let veil finish closing sessions before counting fds
    return snapshot(pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--active", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=30, help="duration of the active run")
    parser.add_argument("--cycles", type=int, default=100_000, help="connect/disconnect cycles")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    nofile = raise_fd_limit()
    total = args.idle + args.active
    command = (
        f".venv/bin/python -m bench.load --idle {args.idle} --active {args.active} "
        f"--seconds {args.seconds} --cycles {args.cycles}"
    )
    print(f"RLIMIT_NOFILE {nofile}; {command}", flush=True)
    with private_postgres(total + 60) as upstream, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with veil_in_front(upstream, workdir / "veil", total + 50) as veil:
            assert port_open(veil.host, veil.port)
            open_idle(veil, 5)  # warm-up: imports, caches, first audit writes
            base = settle(veil.proc.pid, 1)
            alone = active_run(veil, workdir, args.active, max(5, args.seconds // 3), "alone")
            started = time.monotonic()
            idle = open_idle(veil, args.idle)
            open_s = time.monotonic() - started
            with_idle = settle(veil.proc.pid, 2)
            loaded = active_run(veil, workdir, args.active, args.seconds, "with-idle")
            alive = sum(1 for c in idle if c.execute("SELECT 1").fetchone() == (1,))
            for conn in idle:
                conn.close()
            after_idle = settle(veil.proc.pid)
            cyc_before = after_idle
            warm, _, _ = cycles_run(veil, workdir, min(1000, args.cycles))
            cyc_warm = settle(veil.proc.pid)
            rate, cyc_s, done = cycles_run(veil, workdir, args.cycles)
            cyc_after = settle(veil.proc.pid)
            logs_tail = veil.logs()[-500:]
    per_idle_kb = (with_idle["rss_mb"] - base["rss_mb"]) * 1024 / max(1, args.idle)
    body = f"""### Load: idle + active connections, connect/disconnect cycles

`{command}` ({machine()}; noisy: fuzzing and other helpers' tests shared the 2 cores)

veil in front of a private PostgreSQL (max_connections {total + 60}); active clients are
pgbench `SELECT 1` (simple protocol) over SCRAM logins; idle ones are psycopg sessions.

| | tps | p50 ms | p99 ms | max ms | transactions | failed |
|---|---|---|---|---|---|---|
| {args.active} active alone | {alone["tps"]:.0f} | {alone["p50_ms"]:.2f} | {alone["p99_ms"]:.2f} | \
{alone["max_ms"]:.1f} | {alone["transactions"]:.0f} | {alone["failed"]:.0f} |
| {args.active} active + {args.idle} idle | {loaded["tps"]:.0f} | {loaded["p50_ms"]:.2f} | \
{loaded["p99_ms"]:.2f} | {loaded["max_ms"]:.1f} | {loaded["transactions"]:.0f} | {loaded["failed"]:.0f} |

- {args.idle} idle sessions opened in {open_s:.1f} s; all {alive} answered after the active run.
- veil RSS {base["rss_mb"]:.1f} MiB -> {with_idle["rss_mb"]:.1f} MiB with {args.idle} idle sessions:
  **{per_idle_kb:.0f} KiB per idle session** (client + upstream socket, session state);
  fds {base["fds"]:.0f} -> {with_idle["fds"]:.0f}; after they closed: {after_idle["rss_mb"]:.1f} MiB,
  {after_idle["fds"]:.0f} fds.
- Connect/disconnect (pgbench `-C`, 4 clients, SCRAM each time): {done:,} cycles ran (asked
  {args.cycles:,}) in {cyc_s:.0f} s, {rate["cycles_per_s"]:.0f} cycles/s (warm-up {min(1000, args.cycles)}:
  {warm["cycles_per_s"]:.0f}/s). Before warm-up: {cyc_before["rss_mb"]:.1f} MiB, {cyc_before["fds"]:.0f} fds,
  {cyc_before["threads"]:.0f} threads; after warm-up {cyc_warm["rss_mb"]:.1f} MiB, {cyc_warm["fds"]:.0f} fds;
  after all cycles {cyc_after["rss_mb"]:.1f} MiB, {cyc_after["fds"]:.0f} fds,
  {cyc_after["threads"]:.0f} threads
  (RSS growth after warm-up {cyc_after["rss_mb"] - cyc_warm["rss_mb"]:+.1f} MiB).
"""
    print(body)
    print("veil log tail:", logs_tail)
    if not args.no_write:
        write_hardening("Load", body)
    return 0


def write_hardening(sub: str, body: str) -> None:
    """Replace the ``### <sub>...`` part of the ``## Hardening`` section (fuzz, load and soak share it)."""
    from bench import RESULTS

    text = RESULTS.read_text() if RESULTS.exists() else ""
    found = re.search(r"^## Hardening\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    current = found.group(1) if found else ""
    parts = re.split(r"(?=^### )", current, flags=re.M)
    kept = [p.strip() for p in parts if p.strip() and not p.startswith(f"### {sub}")]
    intro = [p for p in kept if not p.startswith("### ")] or [
        "Fuzzing, load and soak figures (issue 10). Each `###` part is written by its script."
    ]
    subs = [p for p in kept if p.startswith("### ")] + [body.strip()]
    write_section(SECTION, "\n\n".join(intro + sorted(subs)))


if __name__ == "__main__":
    sys.exit(main())
