"""Relay throughput: pgbench select-only direct vs pgbouncer vs veil.

``python -m bench.relay_pgbench [--seconds 5] [--rounds 2] [--clients 1,8,32]``

What it answers (issue 2): how much a relay costs on the simplest possible query,
against the two references that matter: the database itself and pgbouncer, the
proxy everyone already runs.  Targets are interleaved (direct, pgbouncer, veil at
1 client, then at 8, ...) for several rounds so slow drift of a shared machine hits
all three alike; the table reports medians.  It also reports latency at 1 client and
the proxies' own CPU per transaction (from /proc, so it counts only the proxy
process, not pgbench or PostgreSQL).

veil runs as ``veil serve`` with its real pipeline and a permissive policy (read-write,
nothing masked): the figure is the relay plus SQL analysis, policy and the audit
trail, without the cost of masking (bench.mask_speed and the wide-read bench cover that).
"veil-relay" is the same relay with the PassThroughPipeline, so the difference between
the two is what the pipeline costs per query.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tests.support.proxy import basic_config, start_veil
from tests.support.services import PgServer, find_pg, free_port, port_open, temp_database

from bench import machine, write_section

USER, PASSWORD = "bench", "bench-password"
TARGETS = ("direct", "pgbouncer", "veil-relay", "veil")
# veil's relay with the PassThroughPipeline: the cost of the wire proxy alone, for the breakdown
RELAY_ONLY = ("-c", "import sys; from veil.app import run; from veil.config import load_config; "
              "from veil.pipeline.hooks import PassThroughPipeline; "
              "run(load_config(sys.argv[1]), pipeline=PassThroughPipeline())")


@dataclass(frozen=True)
class Target:
    name: str
    dsn: str
    password: str | None
    pid: int | None  # the proxy process whose CPU we charge; None for direct


@dataclass(frozen=True)
class Run:
    tps: float
    latency_ms: float
    cpu_us_per_tx: float | None
    # of it, the main thread's (veil's event loop); the rest is other threads (the audit writer)
    loop_us_per_tx: float | None = None


def ensure_pgbouncer() -> str:
    """The pgbouncer binary; installs the Debian package when it is missing."""
    found = shutil.which("pgbouncer") or (os.path.exists("/usr/sbin/pgbouncer") and "/usr/sbin/pgbouncer")
    if not found:
        print("installing pgbouncer (apt-get install -y pgbouncer) ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "pgbouncer"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    return str(found)


@contextlib.contextmanager
def pgbouncer(upstream: dict[str, str], max_clients: int) -> Iterator[Target]:
    """pgbouncer on a free port, session pooling (like veil: one server connection per client), trust auth."""
    binary = ensure_pgbouncer()
    # its own directory directly under /tmp: when we are root it runs as `postgres` and must reach it
    workdir = Path(tempfile.mkdtemp(prefix="veil-bench-pgbouncer-"))
    port = free_port()
    (workdir / "userlist.txt").write_text(f'"{USER}" ""\n')
    (workdir / "pgbouncer.ini").write_text(f"""[databases]
bench = host={upstream.get('host', '127.0.0.1')} port={upstream.get('port', '5432')} \
dbname={upstream['dbname']} user={upstream.get('user', 'postgres')}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / 'userlist.txt'}
pool_mode = session
max_client_conn = {max_clients + 10}
default_pool_size = {max_clients + 5}
logfile = {workdir / 'pgbouncer.log'}
pidfile = {workdir / 'pgbouncer.pid'}
""")
    cmd = [binary, str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        os.chmod(workdir, 0o777)
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = workdir / "pgbouncer.log"
                raise RuntimeError(f"pgbouncer did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.05)
        pid = int((workdir / "pgbouncer.pid").read_text())
        dsn = make_conninfo(host="127.0.0.1", port=str(port), user=USER, dbname="bench")
        yield Target("pgbouncer", dsn, None, pid)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def cpu_seconds(pid: int | None) -> tuple[float, float]:
    """(CPU seconds of process ``pid``, of its main thread), user + system."""
    if pid is None:
        return 0.0, 0.0
    proc = psutil.Process(pid)
    times = proc.cpu_times()
    main = next((t.user_time + t.system_time for t in proc.threads() if t.id == pid), 0.0)
    return float(times.user + times.system), float(main)


def pgbench(target: Target, clients: int, seconds: int, mode: str = "simple") -> Run:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if target.password:
        env["PGPASSWORD"] = target.password
    before, loop_before = cpu_seconds(target.pid)
    done = subprocess.run(
        ["pgbench", "-S", "-n", "-M", mode, "-T", str(seconds), "-c", str(clients),
         "-j", str(min(clients, 2)), target.dsn],
        capture_output=True, text=True, env=env, timeout=seconds + 60,
    )
    after, loop_after = cpu_seconds(target.pid)
    out = done.stdout + done.stderr
    tps = re.search(r"tps = ([\d.]+)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    if done.returncode != 0 or not (tps and latency and processed):
        raise RuntimeError(f"pgbench against {target.name} failed:\n{out}")
    transactions = int(processed.group(1))
    if target.pid is None or not transactions:
        return Run(float(tps.group(1)), float(latency.group(1)), None)
    return Run(float(tps.group(1)), float(latency.group(1)), (after - before) / transactions * 1e6,
               (loop_after - loop_before) / transactions * 1e6)


@contextlib.contextmanager
def profiling(pid: int, seconds: int, out: Path) -> Iterator[None]:
    """py-spy samples ``pid`` (active threads only) while the block runs; collapsed stacks to ``out``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "250", "--duration", str(seconds),
                             "--format", "raw", "--nonblocking", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.wait(seconds + 30)


def hot_spots(collapsed: Path, top: int = 10) -> list[tuple[str, float, float]]:
    """(function, % self, % inclusive) of the busiest functions in py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [re.sub(r" \((.*/)?([^/]+):\d+\)$", r" (\2)", f) for f in stack.split(";")]
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    ranked = sorted(own, key=lambda f: own[f], reverse=True)[:top]
    return [(f, 100 * own[f] / total, 100 * inclusive[f] / total) for f in ranked] if total else []


Runs = dict[tuple[str, str, int], list[Run]]  # (target, query mode, clients) -> runs


def measure(targets: list[Target], modes: list[str], clients: list[int], rounds: int, seconds: int,
            profile: Path | None = None) -> Runs:
    """Each (mode, clients) for each target, interleaved; then py-spy on veil (first mode, c=8) in
    one extra run that no median counts: the sampler's own CPU would cost veil throughput."""
    runs: Runs = {}
    for r in range(rounds):
        for mode in modes:
            for n in clients:
                for target in targets:
                    run = pgbench(target, n, seconds, mode)
                    runs.setdefault((target.name, mode, n), []).append(run)
                    per_tx = run.cpu_us_per_tx
                    cpu = f", proxy CPU {per_tx:.0f} us/tx" if per_tx is not None else ""
                    print(f"round {r + 1} {mode:>8} {target.name:>9} c={n:<3} {run.tps:9.0f} tps  "
                          f"{run.latency_ms:.3f} ms{cpu}", flush=True)
    veil = next((t for t in targets if t.name == "veil"), None)
    if profile is not None and veil is not None and veil.pid is not None and 8 in clients:
        with profiling(veil.pid, seconds, profile):
            pgbench(veil, 8, seconds, modes[0])
    return runs


def median(runs: list[Run], attr: str) -> float:
    values = [getattr(r, attr) for r in runs if getattr(r, attr) is not None]
    return statistics.median(values) if values else float("nan")


def report(runs: Runs, modes: list[str], clients: list[int], rounds: int, seconds: int,
           profile: Path | None = None) -> str:
    lines = [
        f"pgbench `-S` (select-only, scale 1) in the query modes {', '.join(modes)}, {seconds} s per run, "
        f"{rounds} rounds interleaved direct / pgbouncer / veil-relay / veil; medians. pgbouncer in session "
        "mode; veil `serve` with its "
        "whole pipeline (SQL analysis, policy, masking plan, audit trail in sqlite) and a read-write policy "
        "that masks nothing, so the rows are the same; veil-relay is the same relay with the pass-through "
        "pipeline (no analysis, policy or audit): the wire proxy's own cost. Proxy CPU is the proxy "
        "process's own user+system time per transaction (one select-only transaction is one query).",
        "",
        f"Measured on {machine()}. pgbench, PostgreSQL and the proxy share the 2 cores: treat the "
        "figures as rough.",
    ]
    for mode in modes:
        lines += [
            "",
            f"`-M {mode}`:",
            "",
            "| clients | direct tps | pgbouncer tps | veil-relay tps | veil tps | veil / pgbouncer "
            "| veil-relay / pgbouncer | CPU us/tx pgbouncer | veil-relay | veil |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for n in clients:
            d, b, r, v = (median(runs[(name, mode, n)], "tps") for name in TARGETS)
            bc, rc, vc = (median(runs[(name, mode, n)], "cpu_us_per_tx") for name in TARGETS[1:])
            lines.append(f"| {n} | {d:.0f} | {b:.0f} | {r:.0f} | {v:.0f} | {v / b:.2f}x | {r / b:.2f}x "
                         f"| {bc:.0f} | {rc:.0f} | {vc:.0f} |")
        one = min(clients)
        ld, lb, lr, lv = (median(runs[(name, mode, one)], "latency_ms") for name in TARGETS)
        lines += [
            "",
            f"Latency at {one} client (mean per transaction): direct {ld:.3f} ms, pgbouncer {lb:.3f} ms "
            f"(+{lb - ld:.3f}), veil-relay {lr:.3f} ms (+{lr - ld:.3f}), veil {lv:.3f} ms (+{lv - ld:.3f}).",
        ]
    spots = hot_spots(profile) if profile is not None and profile.exists() else []
    if spots:
        lines += [
            "",
            f"Where veil's time goes at 8 clients, `-M {modes[0]}` (py-spy, active samples of all threads of "
            "the veil process; self = in the function itself, total = including what it calls):",
            "",
            "| function | self | total |",
            "|---|---:|---:|",
            *(f"| `{name}` | {own:.1f}% | {incl:.1f}% |" for name, own, incl in spots),
        ]
    lines += ["", "Reproduce: `.venv/bin/python -m bench.relay_pgbench --profile` (or `make bench`)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--modes", default="simple,prepared", help="pgbench query modes (-M), comma list")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--profile", action="store_true",
                        help="profile veil with py-spy in an extra 8-client run no median counts "
                             "(needs the bench extra)")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    modes = args.modes.split(",")
    server: PgServer | None = find_pg()
    if server is None:
        raise SystemExit("no PostgreSQL: set VEIL_TEST_PG_DSN or run one on 127.0.0.1:5432")
    with temp_database(server, prefix="veil_bench") as dsn, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        subprocess.run(["pgbench", "-i", "-s", "1", "-q", dsn], check=True, capture_output=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        upstream = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
        config = basic_config(dsn, [(USER, PASSWORD, ["bench"], "human")])
        veil = start_veil(config, tmp_path=workdir / "veil")
        relay = start_veil(config, tmp_path=workdir / "relay", command=RELAY_ONLY)
        try:
            with pgbouncer(upstream, max(clients)) as bouncer:
                targets = [
                    Target("direct", dsn, None, None),
                    bouncer,
                    Target("veil-relay", relay.dsn(USER, PASSWORD), PASSWORD, relay.proc.pid),
                    Target("veil", veil.dsn(USER, PASSWORD), PASSWORD, veil.proc.pid),
                ]
                profile = workdir / "veil-profile.txt" if args.profile else None
                runs = measure(targets, modes, clients, args.rounds, args.seconds, profile)
                body = report(runs, modes, clients, args.rounds, args.seconds, profile)
        finally:
            veil.stop()
            relay.stop()
    print("\n" + body)
    if not args.no_write:
        write_section("Relay throughput", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
