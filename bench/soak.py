"""Soak: a mixed workload through veil for minutes; does its memory stay flat?

``python -m bench.soak [--minutes 10] [--workers 4] [--warmup 120]``

What it answers (issue 10): after warm-up (caches filled, pools and buffers at
their working size) veil's resident memory must not keep growing under a realistic
mix (target: < 5% growth).  A leak per request, per refused statement, per masked
value or per COPY would show up here long before production notices.

The mix, per worker thread, each with its own session: point reads by id, refused
writes (read-only policy; veil answers 42501 and the session goes on), masked wide
reads (every column of 200 rows: email, SSN, phone, name pseudonymized), and masked
``COPY ... TO STDOUT``.  Every masked answer is checked to differ from the stored
plaintext, so the figure is for the real masking path.  veil's RSS is sampled every
``--interval`` seconds (psutil).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import psycopg
from tests.support.proxy import VeilProcess, basic_config, start_veil
from tests.support.services import find_pg, temp_database

from bench import machine
from bench.load import write_hardening

USER, PASSWORD = "soak", "soak-bench-pw"
ROWS = 2000


def seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE customers (id int PRIMARY KEY, name text, email text, ssn text, phone text,"
            " note text)"
        )
        with conn.cursor().copy("COPY customers FROM STDIN") as copy:
            for i in range(ROWS):
                copy.write_row(
                    (
                        i,
                        f"Ana Lopez{i}",
                        f"ana.lopez{i}@example.com",
                        f"{100 + i % 500:03d}-{10 + i % 80:02d}-{1000 + i:04d}",
                        f"+1 415 555 {i % 10000:04d}",
                        f"call me at ana{i}@example.org",
                    )
                )
        conn.execute("ANALYZE customers")


def config(dsn: str) -> dict[str, object]:
    cfg = basic_config(
        dsn,
        [(USER, PASSWORD, ["soak"], "human")],
        columns={
            "public.customers.name": "person_name",
            "public.customers.email": "email",
            "public.customers.ssn": "us_ssn",
            "public.customers.phone": "phone",
        },
    )
    cfg["policies"] = [
        {
            "name": "soak-read-only",
            "when": {"identities": [USER]},
            "access": "read-only",
            "mask": {"default": "pseudonymize"},
        }
    ]
    return cfg


class Worker(threading.Thread):
    """One session running the mix until ``stop`` is set; counts operations and surprises."""

    def __init__(self, veil: VeilProcess, stop: threading.Event, seed_value: int) -> None:
        super().__init__(daemon=True)
        self.veil, self.stop, self.rng = veil, stop, random.Random(seed_value)
        self.counts: Counter[str] = Counter()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.veil.dsn(USER, PASSWORD), autocommit=True) as conn:
                    for _ in range(200):  # reconnect now and then: sessions come and go too
                        if self.stop.is_set():
                            return
                        self.step(conn)
            except psycopg.Error as exc:
                self.counts[f"error:{type(exc).__name__}"] += 1

    def step(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        op = self.rng.choices(("read", "write", "wide", "copy"), weights=(50, 20, 20, 10))[0]
        if op == "read":
            row = conn.execute(
                "SELECT id, note FROM customers WHERE id = %s", (self.rng.randrange(ROWS),)
            ).fetchone()
            self.counts["read" if row else "read-miss"] += 1
        elif op == "write":
            try:
                conn.execute("UPDATE customers SET note = 'x' WHERE id = %s", (self.rng.randrange(ROWS),))
                self.counts["WRITE-ALLOWED"] += 1
            except psycopg.errors.InsufficientPrivilege:
                self.counts["write-refused"] += 1
        elif op == "wide":
            start = self.rng.randrange(ROWS - 200)
            rows = conn.execute(
                "SELECT * FROM customers WHERE id >= %s ORDER BY id LIMIT 200", (start,)
            ).fetchall()
            plain = sum(1 for r in rows if r[2] == f"ana.lopez{r[0]}@example.com")
            self.counts["wide" if rows and not plain else "WIDE-UNMASKED"] += 1
        else:
            with conn.cursor().copy(
                "COPY (SELECT id, email, ssn FROM customers WHERE id < 300) TO STDOUT"
            ) as copy:
                data = b"".join(bytes(b) for b in copy)
            self.counts["copy" if data and b"ana.lopez1@example.com" not in data else "COPY-UNMASKED"] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds before the growth baseline")
    parser.add_argument("--interval", type=float, default=10.0, help="RSS sampling period (s)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    server = find_pg()
    if server is None:
        raise SystemExit("no PostgreSQL: set VEIL_TEST_PG_DSN or run one on 127.0.0.1:5432")
    command = (
        f".venv/bin/python -m bench.soak --minutes {args.minutes:g} --workers {args.workers} "
        f"--warmup {args.warmup:g} --interval {args.interval:g}"
    )
    print(command, flush=True)
    with temp_database(server, prefix="veil_soak") as dsn, tempfile.TemporaryDirectory() as tmp:
        seed(dsn)
        veil = start_veil(config(dsn), tmp_path=Path(tmp) / "veil", start_timeout=60)
        try:
            proc = psutil.Process(veil.proc.pid)
            stop = threading.Event()
            workers = [Worker(veil, stop, i) for i in range(args.workers)]
            started = time.monotonic()
            for w in workers:
                w.start()
            samples: list[tuple[float, float]] = []
            while (elapsed := time.monotonic() - started) < args.minutes * 60:
                samples.append((elapsed, proc.memory_info().rss / 2**20))
                print(f"{elapsed:6.0f} s  veil RSS {samples[-1][1]:.1f} MiB", flush=True)
                time.sleep(min(args.interval, max(0.1, args.minutes * 60 - elapsed)))
            samples.append((time.monotonic() - started, proc.memory_info().rss / 2**20))
            stop.set()
            for w in workers:
                w.join(30)
            cpu = proc.cpu_times()
        finally:
            veil.stop()
    counts: Counter[str] = Counter()
    for w in workers:
        counts.update(w.counts)
    after = [rss for t, rss in samples if t >= args.warmup] or [samples[-1][1]]
    base, last, peak = after[0], samples[-1][1], max(after)
    growth = (last - base) / base * 100
    total = sum(v for k, v in counts.items() if not k.startswith("error"))
    duration = samples[-1][0]
    series = ", ".join(f"{rss:.0f}" for _, rss in samples[:: max(1, len(samples) // 20)])
    body = f"""### Soak: mixed workload

`{command}` ({machine()}; noisy: fuzzing and other helpers' work shared the 2 cores)

{args.workers} sessions for {duration / 60:.1f} min: {total:,} operations ({total / duration:.0f}/s) -
{", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))}.
veil CPU {cpu.user + cpu.system:.0f} s. RSS (MiB, every {args.interval:g} s): {series}.

**RSS after the {args.warmup:g} s warm-up: {base:.1f} MiB -> {last:.1f} MiB at the end ({growth:+.1f}%), peak
{peak:.1f} MiB** (target: < 5% growth).
"""
    if args.minutes < 10:
        body += (
            f"\nShortened to {args.minutes:g} min (the 10-minute default did not fit the time left); "
            "rerun with the default for the issue's figure.\n"
        )
    print(body)
    if not args.no_write:
        write_hardening("Soak", body)
    bad = [k for k in counts if k.isupper() or k.split(":")[0].isupper()]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
