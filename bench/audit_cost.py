"""Audit cost: what the audit trail takes from pgbench select-only throughput through veil.

``python -m bench.audit_cost [--seconds 6] [--rounds 2] [--clients 1,8,32]``

What it answers (issue 8, target: audit costs <= 5% of throughput).  ``veil serve``
cannot run its real pipeline with the audit trail switched off (the trail is part of
the contract: no event, no statement), so there is no "same veil without audit" to
compare with.  Honest angles instead, all interleaved per round:

* veil with the trail in sqlite on disk (ext4, the default) vs veil-noaudit, the same
  pipeline in a bench-only process whose ``AuditService.record_request`` does nothing
  (connect/disconnect events are still written; pgbench holds its connections): the
  throughput the per-request event costs, building it on the loop and writing it;
* veil-nullstore: events made (built, encoded, hashed, checkpointed) but the sqlite append
  a no-op: splits that cost into making the events and storing them;
* veil-confirm: the same sqlite trail with ``audit.confirm: true`` (each result held until
  its event is committed; the default only for NATS): what waiting for the store costs;
* all vs veil-relay (the PassThroughPipeline: no SQL analysis, policy or audit),
  pgbouncer and the database directly: the ceiling the whole pipeline is held to;
* a py-spy profile of the disk veil at 8 clients, in an extra run no median counts (the
  sampler's CPU would cost veil throughput): the share of veil's CPU samples whose
  stack is in ``veil.audit`` (the writer thread and its sinks) or
  ``veil.pipeline.audit`` (building the event on the event loop).  On a CPU-bound
  proxy that share is what the trail costs in throughput.

The pgbench runner, pgbouncer and py-spy helpers are bench.relay_pgbench's (imported).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from tests.support.proxy import basic_config, start_veil
from tests.support.services import PgServer, find_pg, temp_database

from bench import machine, write_section
from bench.relay_pgbench import RELAY_ONLY, Runs, Target, hot_spots, measure, median, pgbouncer

USER, PASSWORD = "bench", "bench-password"
# "veil" is the name bench.relay_pgbench.measure profiles (an extra, uncounted run at 8 clients)
TARGETS = ("direct", "pgbouncer", "veil-relay", "veil-noaudit", "veil-nullstore", "veil", "veil-confirm")
RUN = "from veil.app import run; from veil.config import load_config; run(load_config(sys.argv[1]))"
# Bench only: the whole pipeline with the per-request audit event switched off.  veil itself
# has no such switch (no event, no statement), so this is a patched copy for the comparison.
NO_AUDIT = ("-c", "import sys; from veil.pipeline.audit import AuditService; "
            "AuditService.record_request = lambda self, request: None; " + RUN)
# Bench only: every event built, encoded and hashed, and then not stored: splits the cost into
# the event's making (1 - nullstore / noaudit) and the store's (the rest).
NULL_STORE = ("-c", "import sys; from veil.audit.sinks.sqlite import SqliteSink; "
              "SqliteSink.append = lambda self, origin, events, notes: None; " + RUN)
AUDIT_FRAME = re.compile(r"veil/audit/|veil/pipeline/audit\.py")


def audit_share(collapsed: Path) -> tuple[float, float]:
    """(% of samples with an audit frame anywhere in the stack, % in the writer thread's stacks).

    Reads py-spy's raw collapsed stacks (full file paths), unlike ``hot_spots`` which shortens them.
    """
    total = audit = writer = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        if AUDIT_FRAME.search(stack):
            audit += count
            if "_bootstrap" in stack.split(";", 1)[0]:  # a thread of its own, not the event loop
                writer += count
    return (100 * audit / total, 100 * writer / total) if total else (float("nan"), float("nan"))


def report(runs: Runs, clients: list[int], rounds: int, seconds: int, load: str,
           profile: Path | None) -> str:
    lines = [
        f"pgbench `-S` (select-only, scale 1), `-M simple`, {seconds} s per run, {rounds} rounds interleaved "
        "direct / pgbouncer (session mode) / veil-relay (PassThroughPipeline: no analysis, policy or "
        "audit) / veil-noaudit (whole pipeline, per-request audit event switched off in a bench-only "
        "patched process) / veil-nullstore (events made but not stored: sqlite's append a no-op) / "
        "veil (whole pipeline, audit trail in sqlite on ext4, the default) / "
        "veil-confirm (the same with `audit.confirm: true`: each result held until its event is "
        "committed); medians. "
        "Read-write policy, nothing masked. **Audit cost = 1 - veil / veil-noaudit** (target <= 5%); "
        "of it, making the events = 1 - veil-nullstore / veil-noaudit, the store the rest.",
        "",
        f"Measured on {machine()}; load average at start {load}. pgbench, PostgreSQL, pgbouncer and "
        "veil share the 2 cores: rough figures.",
        "",
        "| clients | direct tps | pgbouncer tps | veil-relay tps | veil-noaudit tps | veil-nullstore tps "
        "| veil tps | audit cost | making events | storing | veil / pgbouncer | veil-confirm tps "
        "| veil-confirm latency ms | veil CPU us/tx | veil-noaudit | veil-relay |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in clients:
        d, b, r, s, z, v, c = (median(runs[(t, "simple", n)], "tps") for t in TARGETS)
        c_ms = median(runs[("veil-confirm", "simple", n)], "latency_ms")
        rc, sc, vc = (median(runs[(t, "simple", n)], "cpu_us_per_tx")
                      for t in ("veil-relay", "veil-noaudit", "veil"))
        lines.append(f"| {n} | {d:.0f} | {b:.0f} | {r:.0f} | {s:.0f} | {z:.0f} | {v:.0f} "
                     f"| {100 * (1 - v / s):.1f}% | {100 * (1 - z / s):.1f}% | {100 * (z - v) / s:.1f}% "
                     f"| {v / b:.2f}x | {c:.0f} | {c_ms:.2f} | {vc:.0f} | {sc:.0f} | {rc:.0f} |")
    lines += [
        "",
        "CPU per transaction by thread (us; the event loop is veil's main thread, the rest is the "
        "audit writer's and the store's):",
        "",
        "| clients | veil-noaudit loop | veil-nullstore loop | other | veil loop | other |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in clients:
        split = []
        for t in ("veil-noaudit", "veil-nullstore", "veil"):
            total, loop = (median(runs[(t, "simple", n)], a) for a in ("cpu_us_per_tx", "loop_us_per_tx"))
            split += [f"{loop:.0f}"] if t == "veil-noaudit" else [f"{loop:.0f}", f"{total - loop:.0f}"]
        lines.append(f"| {n} | {' | '.join(split)} |")
    if profile is not None and profile.exists():
        share, in_writer = audit_share(profile)
        spots = [s for s in hot_spots(profile, top=40) if "audit" in s[0].lower() or "sqlite" in s[0].lower()]
        lines += [
            "",
            "py-spy on veil (sqlite on ext4) at 8 clients, an extra run no median counts: "
            f"**{share:.1f}% of veil's active CPU samples are audit work** ({in_writer:.1f}% in the writer "
            "thread, the rest building and "
            "queueing events on the event loop). Target: <= 5%.",
        ]
        if spots:
            lines += ["", "Audit functions among veil's busiest (self / total share of samples):", "",
                      "| function | self | total |", "|---|---:|---:|",
                      *(f"| `{name}` | {own:.1f}% | {incl:.1f}% |" for name, own, incl in spots[:8])]
    lines += ["", "Reproduce: `.venv/bin/python -m bench.audit_cost "
              f"--seconds {seconds} --rounds {rounds} --clients {','.join(map(str, clients))}`."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy (then no audit share)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    server: PgServer | None = find_pg()
    if server is None:
        raise SystemExit("no PostgreSQL: set VEIL_TEST_PG_DSN or run one on 127.0.0.1:5432")
    with temp_database(server, prefix="veil_bench_audit") as dsn, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        subprocess.run(["pgbench", "-i", "-s", "1", "-q", dsn], check=True, capture_output=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        upstream = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
        config = basic_config(dsn, [(USER, PASSWORD, ["bench"], "human")])
        on_disk = start_veil({**config, "audit": {"store": f"sqlite:///{workdir / 'audit.db'}"}},
                             tmp_path=workdir / "veil")
        no_audit = start_veil({**config, "audit": {"store": f"sqlite:///{workdir / 'noaudit.db'}"}},
                              tmp_path=workdir / "veil-noaudit", command=NO_AUDIT)
        null_store = start_veil({**config, "audit": {"store": f"sqlite:///{workdir / 'nullstore.db'}"}},
                                tmp_path=workdir / "veil-nullstore", command=NULL_STORE)
        relay = start_veil(config, tmp_path=workdir / "relay", command=RELAY_ONLY)
        confirming = start_veil({**config, "audit": {"store": f"sqlite:///{workdir / 'confirm.db'}",
                                                     "confirm": True}}, tmp_path=workdir / "veil-confirm")
        try:
            with pgbouncer(upstream, max(clients)) as bouncer:
                targets = [
                    Target("direct", dsn, None, None), bouncer,
                    Target("veil-relay", relay.dsn(USER, PASSWORD), PASSWORD, relay.proc.pid),
                    Target("veil-noaudit", no_audit.dsn(USER, PASSWORD), PASSWORD, no_audit.proc.pid),
                    Target("veil-nullstore", null_store.dsn(USER, PASSWORD), PASSWORD, null_store.proc.pid),
                    Target("veil", on_disk.dsn(USER, PASSWORD), PASSWORD, on_disk.proc.pid),
                    Target("veil-confirm", confirming.dsn(USER, PASSWORD), PASSWORD, confirming.proc.pid),
                ]
                profile = None if args.no_profile else workdir / "veil-profile.txt"
                runs = measure(targets, ["simple"], clients, args.rounds, args.seconds, profile)
                body = report(runs, clients, args.rounds, args.seconds, load, profile)
        finally:
            for proc in (on_disk, no_audit, null_store, relay, confirming):
                proc.stop()
    print("\n" + body)
    if not args.no_write:
        write_section("Audit cost", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
