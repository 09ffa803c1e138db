"""Connect/disconnect churn: 100,000 short sessions, then count what veil still holds.

``python -m bench.churn [--cycles 100000] [--clients 8] [--warmup 2000] [--profile 20]``

What it answers (issue 10): after many sessions that each log in (SCRAM), open an
upstream connection, run ``SELECT 1`` and hang up, does veil keep file descriptors,
asyncio tasks, per-session objects or memory?  And where does one connect spend its
time (a py-spy profile of veil while the churn runs)?

How: a private PostgreSQL (``bench.load.private_postgres``) behind a real ``veil
serve``; the churn is ``pgbench -C`` (a new connection per transaction, libpq, SCRAM
through veil) with ``--clients`` parallel connectors on two pgbench threads.  veil runs
under a small probe (``--probe``, this module) that starts the normal CLI and, once a
second, counts from inside veil's event loop: all asyncio tasks, the front end's
session tasks, logged-in sessions, connection slots held (logging in or relaying) and the
``veil_active_connections`` gauge of the metrics registry (the same figure
``/metrics`` exports); RSS and fds are read from outside with psutil.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench import machine
from bench.load import pgbench, private_postgres, raise_fd_limit, veil_in_front, write_hardening

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ inside veil (the probe)


def _probe_serve(stats_path: Path, cli_args: list[str]) -> None:
    """Run ``veil serve`` with a thread that writes in-loop counts to ``stats_path`` every second."""
    import asyncio

    import veil.app
    from veil.cli.serve import serve
    from veil.frontends.pg.server import PgFrontend
    from veil.pipeline.service import VeilPipeline

    seen: dict[str, Any] = {}
    make_loop = veil.app.new_event_loop
    frontend_init = PgFrontend.__init__
    pipeline_init = VeilPipeline.__init__

    def capture_loop() -> asyncio.AbstractEventLoop:
        seen["loop"] = make_loop()
        return seen["loop"]

    def capture_frontend(self: PgFrontend, *a: Any, **kw: Any) -> None:
        frontend_init(self, *a, **kw)
        seen["frontend"] = self

    def capture_pipeline(self: VeilPipeline, *a: Any, **kw: Any) -> None:
        pipeline_init(self, *a, **kw)
        seen["pipeline"] = self

    veil.app.new_event_loop = capture_loop  # type: ignore[assignment]
    PgFrontend.__init__ = capture_frontend  # type: ignore[method-assign]
    VeilPipeline.__init__ = capture_pipeline  # type: ignore[method-assign]

    def count() -> None:  # runs on veil's loop: no race with the tasks it counts
        frontend, pipeline = seen.get("frontend"), seen.get("pipeline")
        gauge = None
        if pipeline is not None:
            gauge = pipeline.metrics.active_connections.labels("pg")._value.get()
        row = {
            "t": time.time(),
            "asyncio_tasks": len(asyncio.all_tasks(seen["loop"])),
            "session_tasks": len(frontend._tasks) if frontend else None,
            "sessions": len(frontend._clients) if frontend else None,
            "slots": frontend._slots if frontend else None,
            "active_gauge": gauge,
        }
        tmp = stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(row))
        tmp.replace(stats_path)

    def ticker() -> None:
        while True:
            time.sleep(1.0)
            loop = seen.get("loop")
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(count)

    threading.Thread(target=ticker, daemon=True).start()
    serve.main(cli_args, prog_name="veil serve")


# ------------------------------------------------------------------ outside (the bench)


def read_probe(path: Path, pid: int) -> dict[str, float]:
    """The probe's latest in-loop counts plus RSS/fds/threads from psutil."""
    time.sleep(1.5)  # one fresh probe tick
    if not path.exists():  # count() failed inside veil (its log says why): no figures beat wrong ones
        raise SystemExit(f"the probe inside veil wrote no counts to {path}; see veil's log")
    row: dict[str, float] = json.loads(path.read_text())
    proc = psutil.Process(pid)
    row.update(rss_mb=proc.memory_info().rss / 2**20, fds=proc.num_fds(), threads=proc.num_threads())
    return row


def settle(path: Path, pid: int, seconds: float = 3.0) -> dict[str, float]:
    time.sleep(seconds)  # sessions finish closing (audit disconnect, upstream close) before counting
    return read_probe(path, pid)


def churn(veil: Any, workdir: Path, cycles: int, clients: int) -> tuple[int, float, str]:
    """``cycles`` connect/SELECT 1/disconnect cycles over ``clients`` connectors; (done, seconds, stderr)."""
    per_client = max(1, cycles // clients)
    started = time.monotonic()
    proc = pgbench(veil, workdir, "-C", "-c", str(clients), "-j", "2", "-t", str(per_client))
    elapsed = time.monotonic() - started
    m = re.search(r"number of transactions actually processed: (\d+)", proc.stdout)
    return (int(m.group(1)) if m else 0), elapsed, proc.stderr[-1500:] if proc.returncode else ""


def direct_churn(upstream: str, workdir: Path, cycles: int, clients: int) -> float:
    """Cycles/s of the same pgbench ``-C`` against PostgreSQL itself (the floor veil adds to)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(upstream)
    script = workdir / "select1.sql"
    script.write_text("SELECT 1;\n")
    started = time.monotonic()
    proc = subprocess.run(
        ["pgbench", "-n", "-h", str(params["host"]), "-p", str(params["port"]), "-U", "postgres",
         "--protocol=simple", "-f", str(script), "-C", "-c", str(clients), "-j", "2",
         "-t", str(max(1, cycles // clients)), "postgres"],
        capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    m = re.search(r"number of transactions actually processed: (\d+)", proc.stdout)
    return int(m.group(1)) / elapsed if m and elapsed else 0.0


def profile(pid: int, seconds: int, out: Path) -> None:
    """py-spy (sampling, 100 Hz) of veil into collapsed stacks."""
    spy = Path(sys.executable).with_name("py-spy")
    subprocess.run(
        [str(spy), "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "-f", "raw", "-o", str(out),
         "--nonblocking", "--threads"],
        check=True, capture_output=True,
    )


# Where a sample goes: the audit writer's own thread, else the first bucket whose needle
# appears on the stack (inclusive), else the event loop itself when the leaf is uvloop's
# C code (accept, socket reads/writes, callbacks) under ``run``.
BUCKETS = (
    ("SCRAM exchange with the client (scramp, HMAC)", ("scramp", "_scram_login")),
    ("upstream login (veil -> PostgreSQL startup, SSLContext)", ("open_upstream", "veil/upstream/login.py")),
    ("audit events queued (record_session)", ("record_session", "veil/audit/")),
    ("session open/close (pipeline, metrics, policy)",
     ("open_session", "close_session", "upstream_parameters", "veil/pipeline/", "veil/policy/")),
    ("logging", ("logging/",)),
    ("relay of SELECT 1 (exchange, relay)", ("exchange.py", "relay.py")),
    ("startup, negotiation, framing, accept", ("_negotiate", "startup.py", "wire/pg/", "_spawn",
                                               "_ClientChannel", "server.py")),
)


def classify(frames: list[str]) -> str:
    if "audit" in frames[0]:
        return "audit writer thread (signing, sqlite append)"
    for name, needles in BUCKETS:
        if any(needle in f for f in frames for needle in needles):
            return name
    if "veil/app.py" in frames[-1]:
        return "event loop C code (uvloop: accept, socket I/O)"
    return "other (" + frames[-1].split(" (")[0] + ")"


def summarize(raw: Path, top: int = 12) -> tuple[list[tuple[str, float]], list[tuple[str, float]], int]:
    """(bucket shares, top veil functions by inclusive share, samples) from py-spy raw output."""
    inclusive: collections.Counter[str] = collections.Counter()
    buckets: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = stack.split(";")
        for frame in {re.sub(r":\d+\)$", ")", f) for f in frames[1:]}:  # frame 0 is the thread
            inclusive[frame] += count
        buckets[classify(frames)] += count
    for name in [k for k, v in buckets.items() if k.startswith("other (") and v < total / 100]:
        buckets["other (each < 1%)"] += buckets.pop(name)
    share = [(k, 100 * v / total) for k, v in buckets.most_common()] if total else []
    skip = ("veil/app.py", "veil/cli/", "bench/")
    funcs = [(k, 100 * v / total) for k, v in inclusive.most_common()
             if ("veil/" in k or "scramp" in k) and not any(s in k for s in skip)]
    return share, funcs[:top], total


def row(name: str, s: dict[str, float]) -> str:
    return (f"| {name} | {s['rss_mb']:.1f} | {s['fds']:.0f} | {s['threads']:.0f} "
            f"| {s.get('asyncio_tasks', '?')} | {s.get('session_tasks', '?')} | {s.get('sessions', '?')} "
            f"| {s.get('slots', '?')} | {s.get('active_gauge', '?')} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0], allow_abbrev=False)
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8, help="parallel connectors")
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=20, help="seconds of py-spy during a churn (0: none)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--keep-profile", type=Path, help="copy py-spy's raw stacks here")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.probe:
        _probe_serve(args.probe, rest)
        return 0
    raise_fd_limit()
    command = (f".venv/bin/python -m bench.churn --cycles {args.cycles} --clients {args.clients} "
               f"--warmup {args.warmup} --profile {args.profile}")
    print(command, flush=True)
    with private_postgres(args.clients + 30) as upstream, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        stats = workdir / "probe.json"
        env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        with veil_in_front(upstream, workdir / "veil", args.clients + 20,
                           command=("-m", "bench.churn", "--probe", str(stats), "-c"), env=env) as veil:
            pid = veil.proc.pid
            start = read_probe(stats, pid)
            warm_done, warm_s, err = churn(veil, workdir, args.warmup, args.clients)
            warm = settle(stats, pid)
            prof: tuple[list[tuple[str, float]], list[tuple[str, float]], int] = ([], [], 0)
            prof_rate = 0.0
            if args.profile:
                raw = workdir / "profile.txt"
                spy = threading.Thread(target=profile, args=(pid, args.profile, raw))
                spy.start()
                n, s, _ = churn(veil, workdir, 60 * args.profile, args.clients)
                spy.join()
                prof_rate = n / s if s else 0.0
                prof = summarize(raw) if raw.exists() else prof
                if args.keep_profile and raw.exists():
                    args.keep_profile.write_bytes(raw.read_bytes())
                warm = settle(stats, pid)
            cpu0 = sum(psutil.Process(pid).cpu_times()[:2])
            done, seconds, err = churn(veil, workdir, args.cycles, args.clients)
            cpu_s = sum(psutil.Process(pid).cpu_times()[:2]) - cpu0
            after = settle(stats, pid)
            peak_log = veil.logs().count("ERROR")
        direct_rate = direct_churn(upstream, workdir, min(args.cycles, 3000), args.clients)
    rate = done / seconds if seconds else 0.0
    cpu_ms = 1000 * cpu_s / done if done else 0.0
    buckets = "\n".join(f"| {k} | {v:.1f}% |" for k, v in prof[0])
    funcs = "\n".join(f"| `{k}` | {v:.1f}% |" for k, v in prof[1])
    body = f"""### Connect/disconnect churn

`{command}` ({machine()})

pgbench `-C` (libpq; every transaction is a new connection: TCP connect, SCRAM-SHA-256
login at veil, veil's own upstream login (trust on the private server), `SELECT 1`,
Terminate) with {args.clients} parallel connectors on 2 pgbench threads.

**{done:,} cycles in {seconds:.0f} s: {rate:.0f} cycles/s** (asked {args.cycles:,}; {warm_done:,} warm-up
cycles first at {warm_done / warm_s if warm_s else 0:.0f}/s). ERROR lines in veil's log: {peak_log}.
{("pgbench stderr: " + err.splitlines()[-1]) if err else ""}

| when | RSS MiB | fds | threads | asyncio tasks | session tasks | sessions | slots held | active gauge |
|---|---|---|---|---|---|---|---|---|
{row("started, before warm-up", start)}
{row("after warm-up (+profile run)", warm)}
{row(f"after {done:,} cycles", after)}

RSS growth after warm-up: **{after["rss_mb"] - warm["rss_mb"]:+.1f} MiB**;
fds {warm["fds"]:.0f} -> {after["fds"]:.0f};
asyncio tasks {warm.get("asyncio_tasks")} -> {after.get("asyncio_tasks")}.
veil CPU per cycle: **{cpu_ms:.1f} ms** ({cpu_s:.0f} s CPU for {done:,} cycles:
{cpu_s / seconds if seconds else 0:.2f} cores busy of 2).
The same pgbench `-C` straight to the private PostgreSQL (trust, no veil, no SCRAM):
{direct_rate:.0f} cycles/s.

Where a connect spends veil's time (py-spy, {args.profile} s at 100 Hz, {prof[2]:,} samples, during a churn
of {prof_rate:.0f} cycles/s; inclusive share of samples, first matching bucket):

| part | share |
|---|---|
{buckets}

Top veil functions by inclusive share:

| function | share |
|---|---|
{funcs}
"""
    print(body)
    if not args.no_write:
        write_hardening("Connect/disconnect churn", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
