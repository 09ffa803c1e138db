"""The whole pipeline at two commits, side by side: did a change make veil faster?

``python -m bench.versus REV [--rounds 3] [--seconds 6] [--clients 8] [--mode simple]``

Absolute throughput on a shared 2-core machine moves by tens of percent from minute to
minute, so comparing today's RESULTS.md with yesterday's says little.  This checks REV out
into a temporary git worktree and runs ``veil serve`` from it (``PYTHONPATH`` puts its
``src`` before the installed tree) and from the working tree, interleaved round by round,
under the same pgbench ``-S`` load.  Reported per target (medians): tps, the veil process's
CPU per transaction, and that CPU split by thread (the event loop and the audit writer):
CPU per transaction is the figure that holds still when the machine does not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from tests.support.proxy import basic_config, start_veil
from tests.support.services import find_pg, temp_database

from bench import machine, write_section
from bench.relay_pgbench import Target, pgbench

USER, PASSWORD = "bench", "bench-password"
ROOT = Path(__file__).resolve().parent.parent


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) per thread of ``pid``, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        out[task.name] = (int(fields[11]) + int(fields[12])) / tick
    return out


def one_run(dsn: str, workdir: Path, src: Path | None, clients: int, seconds: int, mode: str
            ) -> tuple[float, float, list[float]]:
    """(tps, CPU us/tx, per-thread CPU us/tx busiest first) of one veil serving pgbench."""
    config = basic_config(dsn, [(USER, PASSWORD, ["bench"], "human")])
    config["audit"] = {"store": f"sqlite:///{workdir / 'audit.db'}"}
    env = {"PYTHONPATH": str(src)} if src is not None else {}
    veil = start_veil(config, tmp_path=workdir, env=env)
    try:
        target = Target("veil", veil.dsn(USER, PASSWORD), PASSWORD, veil.proc.pid)
        pgbench(target, clients, 2, mode)  # warm the caches
        before = thread_cpu(veil.proc.pid)
        run = pgbench(target, clients, seconds, mode)
        after = thread_cpu(veil.proc.pid)
    finally:
        veil.stop()
    tx = run.tps * seconds
    threads = sorted(((after[t] - before.get(t, 0.0)) / tx * 1e6 for t in after), reverse=True)
    return run.tps, run.cpu_us_per_tx or 0.0, [t for t in threads if t >= 0.5]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the commit to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mode", default="simple", choices=("simple", "extended", "prepared"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    server = find_pg()
    if server is None:
        raise SystemExit("no PostgreSQL: set VEIL_TEST_PG_DSN or run one on 127.0.0.1:5432")
    rev = subprocess.run(["git", "rev-parse", "--short", args.rev], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    results: dict[str, list[tuple[float, float, list[float]]]] = {rev: [], "working tree": []}
    with tempfile.TemporaryDirectory() as tmp, temp_database(server, prefix="veil_bench_versus") as dsn:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), rev], cwd=ROOT, check=True)
        try:
            subprocess.run(["pgbench", "-i", "-s", "1", "-q", dsn], check=True, capture_output=True)
            for n in range(args.rounds):
                for name, src in ((rev, old / "src"), ("working tree", None)):
                    got = one_run(dsn, Path(tmp) / f"{n}-{name.replace(' ', '-')}", src, args.clients,
                                  args.seconds, args.mode)
                    results[name].append(got)
                    print(f"round {n + 1} {name:>12}: {got[0]:7.0f} tps, {got[1]:4.0f} us/tx, threads "
                          + " ".join(f"{t:.0f}" for t in got[2]))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    rows = []
    for name, runs in results.items():
        tps = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        loop = statistics.median(r[2][0] for r in runs)
        rest = statistics.median(sum(r[2][1:]) for r in runs)
        rows.append(f"| {name} | {tps:.0f} | {cpu:.0f} | {loop:.0f} | {rest:.0f} |")
    body = "\n".join([
        f"The whole pipeline (read-write policy, nothing masked, audit to sqlite) at `{rev}` and at the "
        f"working tree (HEAD `{head}` plus any uncommitted change), interleaved, pgbench `-S -M {args.mode} "
        f"-c {args.clients}`, {args.seconds} s per run, {args.rounds} rounds; medians.",
        "",
        f"Measured on {machine()}; load average at start {load}.",
        "",
        "| veil at | tps | CPU us/tx | event loop thread us/tx | other threads (audit writer) us/tx |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Reproduce: `.venv/bin/python -m bench.versus {args.rev} --rounds {args.rounds} "
        f"--seconds {args.seconds} --clients {args.clients} --mode {args.mode}`.",
    ])
    print("\n" + body)
    if not args.no_write:
        write_section("Pipeline versus an earlier commit", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
