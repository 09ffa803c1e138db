"""Masking through the proxy: a wide read (100 rows x 10 columns, 6 sensitive) end to end.

``python -m bench.mask_wide_read [--seconds 8] [--rounds 2] [--clients 1,8,32] [--profile]``

What it answers (issue 6, "Measure"): what masking costs a real client, not the
masker alone (bench.mask_speed covers that).  pgbench runs a custom script,
``SELECT * FROM wide``, against four targets, interleaved per round so the drift of a
shared machine hits all alike: the database directly, pgbouncer (unmasked), veil as
an identity whose policy pseudonymizes every sensitive column, and veil as an identity
that masks nothing.  Both veil identities go through the same ``veil serve`` process.

CPU per row is the veil process's own user+system time (psutil) divided by rows
returned.  The *marginal* per-row cost subtracts a one-row read of the same table
(``LIMIT 1``) by the same identity, so the fixed per-query cost (parse, policy,
audit event) is not charged to rows: ``(cpu(100 rows) - cpu(1 row)) / 99``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from faker import Faker
from psycopg.conninfo import conninfo_to_dict
from tests.support.proxy import basic_config, start_veil
from tests.support.services import PgServer, find_pg, temp_database

from bench import machine, write_section
from bench.relay_pgbench import Target, cpu_seconds, hot_spots, pgbouncer, profiling

ROWS = 100
MASKED, CLEAR = ("masked", "masked-password"), ("clear", "clear-password")
TARGETS = ("direct", "pgbouncer", "veil-masked", "veil-unmasked")
WIDE_SQL = "SELECT * FROM wide;\n"
ONE_ROW_SQL = "SELECT * FROM wide LIMIT 1;\n"


@dataclass(frozen=True)
class Run:
    tps: float
    transactions: int
    cpu_s: float | None  # proxy process CPU seconds during the run; None for direct


def create_wide(dsn: str, rows: int = ROWS) -> None:
    """The wide table: 6 sensitive columns with realistic values (fixed seed) and 4 clean ones."""
    fake = Faker("en_US")
    Faker.seed(6)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("""CREATE TABLE wide (
            id int PRIMARY KEY, full_name text, email text, phone text, ssn text, card text, iban text,
            amount numeric(12,2), created_at timestamptz, status text)""")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO wide VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
                "now() - %s * interval '1 hour', %s)",
                [(i, fake.name(), fake.email(), fake.phone_number(), fake.ssn(), fake.credit_card_number(),
                  fake.iban(), round(fake.pyfloat(min_value=1, max_value=9999), 2), i,
                  fake.random_element(("open", "paid", "refunded"))) for i in range(1, rows + 1)])
        conn.execute("VACUUM ANALYZE wide")


def wide_config(dsn: str) -> dict[str, object]:
    """One veil, two identities: ``masked`` (read-only, pseudonymize all) and ``clear`` (nothing masked)."""
    return basic_config(
        dsn, [(*MASKED, ["bench"], "human"), (*CLEAR, ["bench"], "human")],
        policies=[
            {"name": "bench-masked", "when": {"identities": [MASKED[0]]}, "access": "read-only",
             "mask": {"default": "pseudonymize"}},
            {"name": "bench-clear", "when": {"identities": [CLEAR[0]]}, "access": "read-only",
             "mask": {"default": "none", "secret": "none"}},
        ])


def check_masking(direct_dsn: str, masked_dsn: str, clear_dsn: str) -> int:
    """How many of the 6 sensitive columns come back changed for ``masked`` (and none for ``clear``).

    Guards the figure: a benchmark of a policy that silently masks nothing would be a fake result.
    """
    sql = "SELECT full_name, email, phone, ssn, card, iban FROM wide ORDER BY id LIMIT 1"
    rows = []
    for dsn in (direct_dsn, masked_dsn, clear_dsn):
        with psycopg.connect(dsn) as conn:
            rows.append(conn.execute(sql).fetchone())
    plain, masked, clear = rows
    if clear != plain:
        raise RuntimeError("the unmasked identity does not see the plain values")
    return sum(a != b for a, b in zip(plain or (), masked or (), strict=True))


def pgbench_script(target: Target, script: Path, clients: int, seconds: int, mode: str) -> Run:
    """pgbench with a custom script file; the proxy's CPU time is read around the run."""
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if target.password:
        env["PGPASSWORD"] = target.password
    before = cpu_seconds(target.pid)
    done = subprocess.run(
        ["pgbench", "-n", "-f", str(script), "-M", mode, "-T", str(seconds), "-c", str(clients),
         "-j", str(min(clients, 2)), target.dsn],
        capture_output=True, text=True, env=env, timeout=seconds + 60)
    cpu = cpu_seconds(target.pid) - before if target.pid is not None else None
    out = done.stdout + done.stderr
    tps = re.search(r"tps = ([\d.]+)", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    if done.returncode != 0 or not (tps and processed):
        raise RuntimeError(f"pgbench against {target.name} failed:\n{out}")
    return Run(float(tps.group(1)), int(processed.group(1)), cpu)


def us_per_tx(runs: Sequence[Run]) -> float:
    """Median proxy CPU microseconds per transaction over runs."""
    values = [r.cpu_s / r.transactions * 1e6 for r in runs if r.cpu_s is not None and r.transactions]
    return statistics.median(values) if values else float("nan")


def write_scripts(directory: Path) -> tuple[Path, Path]:
    wide, one = directory / "wide.sql", directory / "one.sql"
    wide.write_text(WIDE_SQL)
    one.write_text(ONE_ROW_SQL)
    return wide, one


def report(runs: dict[tuple[str, int], list[Run]], one_row: dict[str, list[Run]], clients: list[int],
           rounds: int, seconds: int, mode: str, load: str, spots: list[tuple[str, float, float]]) -> str:
    tps = {k: statistics.median(r.tps for r in v) for k, v in runs.items()}
    lines = [
        f"pgbench custom script `SELECT * FROM wide` ({ROWS} rows x 10 columns: id, full_name, email, phone, "
        f"ssn, card, iban, amount, created_at, status), `-M {mode}`, {seconds} s per run, {rounds} rounds "
        "interleaved direct / pgbouncer (session mode, unmasked) / veil as `masked` (read-only, "
        "`mask: {default: pseudonymize}`) / veil as `clear` (`mask: {default: none, secret: none}`); "
        "medians. Both veil identities use one `veil serve` (whole pipeline, audit to sqlite).",
        "",
        f"Measured on {machine()}; load average at start {load}. pgbench, PostgreSQL and the proxies share "
        "the 2 cores with other helpers' work: rough figures.",
        "",
        "| clients | direct tps | pgbouncer tps | veil masked tps | veil unmasked tps | masked / pgbouncer "
        "| unmasked / pgbouncer | veil CPU us/query masked | unmasked |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in clients:
        d, b, m, c = (tps[(t, n)] for t in TARGETS)
        cm, cc = us_per_tx(runs[("veil-masked", n)]), us_per_tx(runs[("veil-unmasked", n)])
        lines.append(f"| {n} | {d:.0f} | {b:.0f} | {m:.0f} | {c:.0f} | {m / b:.2f}x | {c / b:.2f}x "
                     f"| {cm:.0f} | {cc:.0f} |")
    ref = 8 if 8 in clients else clients[0]
    cm, cc = us_per_tx(runs[("veil-masked", ref)]), us_per_tx(runs[("veil-unmasked", ref)])
    om, oc = us_per_tx(one_row["veil-masked"]), us_per_tx(one_row["veil-unmasked"])
    marg_m, marg_c = (cm - om) / (ROWS - 1), (cc - oc) / (ROWS - 1)
    lines += [
        "",
        f"CPU per row at {ref} clients (veil process user+system time, psutil): masked "
        f"{cm / ROWS:.2f} us per row all-in (query cost spread over {ROWS} rows), "
        f"unmasked {cc / ROWS:.2f} us. Marginal per row "
        f"(100-row query minus a `LIMIT 1` query of the same identity, {ref} clients: masked {om:.0f} us, "
        f"unmasked {oc:.0f} us per 1-row query): **masked {marg_m:.2f} us/row, "
        f"unmasked {marg_c:.2f} us/row**; "
        f"masking alone ≈ {marg_m - marg_c:.2f} us per row of 6 sensitive values.",
        "",
        f"Targets (issue 6): masked >= 0.5x pgbouncer at 8 clients — reached "
        f"{tps[('veil-masked', ref)] / tps[('pgbouncer', ref)]:.2f}x; <= 2 us CPU per masked row — "
        f"{marg_m:.2f} us marginal; <= 0.3 us per unmasked row — {marg_c:.2f} us marginal.",
    ]
    if spots:
        lines += [
            "",
            f"Where veil's time goes, masked identity, {ref} clients (py-spy `--nonblocking`, "
            "all threads of the veil process; self = in the function, total = including callees):",
            "",
            "| function | self | total |",
            "|---|---:|---:|",
            *(f"| `{name}` | {own:.1f}% | {incl:.1f}% |" for name, own, incl in spots),
        ]
    lines += ["", "Reproduce: `.venv/bin/python -m bench.mask_wide_read "
              f"--seconds {seconds} --rounds {rounds} "
              f"--clients {','.join(map(str, clients))} --mode {mode} --profile`."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--mode", default="simple", choices=("simple", "extended", "prepared"))
    parser.add_argument("--profile", action="store_true", help="py-spy the masked run, last round, 8 clients")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    ref = 8 if 8 in clients else clients[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    server: PgServer | None = find_pg()
    if server is None:
        raise SystemExit("no PostgreSQL: set VEIL_TEST_PG_DSN or run one on 127.0.0.1:5432")
    with temp_database(server, prefix="veil_bench_wide") as dsn, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        create_wide(dsn)
        wide, one = write_scripts(workdir)
        upstream = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
        veil = start_veil(wide_config(dsn), tmp_path=workdir / "veil")
        profile = workdir / "masked-profile.txt"
        runs: dict[tuple[str, int], list[Run]] = {}
        changed = check_masking(dsn, veil.dsn(*MASKED), veil.dsn(*CLEAR))
        print(f"masked identity: {changed} of 6 sensitive columns changed", flush=True)
        one_row: dict[str, list[Run]] = {}
        try:
            with pgbouncer(upstream, max(clients)) as bouncer:
                targets = [Target("direct", dsn, None, None), bouncer,
                           Target("veil-masked", veil.dsn(*MASKED), MASKED[1], veil.proc.pid),
                           Target("veil-unmasked", veil.dsn(*CLEAR), CLEAR[1], veil.proc.pid)]
                for r in range(args.rounds):
                    for n in clients:
                        for t in targets:
                            if args.profile and t.name == "veil-masked" and r == args.rounds - 1 and n == ref:
                                with profiling(veil.proc.pid, args.seconds, profile):
                                    run = pgbench_script(t, wide, n, args.seconds, args.mode)
                            else:
                                run = pgbench_script(t, wide, n, args.seconds, args.mode)
                            runs.setdefault((t.name, n), []).append(run)
                            cpu = f", veil CPU {run.cpu_s / run.transactions * 1e6:.0f} us/query" \
                                if run.cpu_s is not None and t.name.startswith("veil") else ""
                            print(f"round {r + 1} {t.name:>13} c={n:<3} {run.tps:8.0f} tps{cpu}", flush=True)
                    for t in targets[2:]:
                        run = pgbench_script(t, one, ref, args.seconds, args.mode)
                        one_row.setdefault(t.name, []).append(run)
                        print(f"round {r + 1} {t.name:>13} c={ref:<3} LIMIT 1 {run.tps:8.0f} tps", flush=True)
        finally:
            veil.stop()
        spots = hot_spots(profile, top=12) if profile.exists() else []
        body = report(runs, one_row, clients, args.rounds, args.seconds, args.mode, load, spots)
        body += f"\n\nChecked before the runs: the masked identity gets {changed} of the 6 " \
                "sensitive columns changed; the unmasked identity gets the plain values."
    print("\n" + body)
    if not args.no_write:
        write_section("Masking through the proxy", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
