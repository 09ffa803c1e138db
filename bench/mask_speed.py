"""Masking speed and pseudonym collisions (issue 4), and per-row cost of a MaskPlan (issue 6).

    .venv/bin/python -m bench.mask_speed                      # full run (1,000,000 for collisions)
    .venv/bin/python -m bench.mask_speed --values 5000 --collisions 100000   # quick look

* values/s on one core for each method and the main types, on distinct short values
  (cache misses: the cache is off), best of several rounds to damp a shared machine;
  plus the cache-hit rate for repeated values;
* collisions of pseudonymized emails and person names over N distinct inputs (a join
  key must stay near 1:1);
* the MaskPlan path: CPU per row of a 100-row x 10-column result with 6 sensitive
  columns (cold and warm cache), and a row of a shape with nothing to mask.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from bench import machine, write_section
from veil.mask.engine import MaskEngine
from veil.mask.formats import lists
from veil.mask.keys import Keyring
from veil.pipeline.masking import MaskPlanner
from veil.values import ColumnInfo, Decision

TYPES: dict[str, Callable[[int], str]] = {
    "email": lambda i: f"user{i}.name@company{i % 500}.com",
    "phone": lambda i: f"+1 415 {i % 1000:03d} {i % 10000:04d}",
    "credit_card": lambda i: f"4539{i:012d}",
    "us_ssn": lambda i: f"{i % 899 + 1:03d}-{i % 99 + 1:02d}-{i % 9999 + 1:04d}",
    "person_name": lambda i: f"{lists.first_names()[i % 8000]} {lists.last_names()[i // 8000 % 11000]}",
    "ip_address": lambda i: f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
}
METHODS = ("pseudonymize", "partial", "redact", "hash", "generalize")
ROUNDS = 7


def _rate(fn: Callable[[str], object], values: Sequence[str]) -> float:
    """Values per CPU-second (process time, so time spent descheduled does not count)."""
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.process_time()
        for v in values:
            fn(v)
        best = min(best, time.process_time() - t0)
    return len(values) / max(best, 1e-9)


def _loop_ns(n: int = 200_000) -> float:
    """An empty Python call per value: a calibration figure for the machine's speed right now."""
    def noop(_v: str) -> None:
        return None

    values = ["x"] * n
    return 1e9 / _rate(noop, values)


def speed_table(n: int) -> tuple[str, dict[str, float]]:
    lines = ["| type | " + " | ".join(METHODS) + " |", "|---|" + "---:|" * len(METHODS)]
    pseudo: dict[str, float] = {}
    for data_type, gen in TYPES.items():
        cells = []
        for method in METHODS:
            engine = MaskEngine(Keyring.generate(), cache_size=0)
            values = [gen(i) for i in range(n)]
            rate = _rate(lambda v, e=engine, t=data_type, m=method: e.mask_value(t, m, v), values)
            cells.append(f"{rate:,.0f}")
            if method == "pseudonymize":
                pseudo[data_type] = rate
        lines.append(f"| {data_type} | " + " | ".join(cells) + " |")
    return "\n".join(lines), pseudo


def cached_rate(n: int) -> float:
    engine = MaskEngine(Keyring.generate())
    values = [TYPES["email"](i % 1000) for i in range(n)]
    for v in values[:1000]:
        engine.mask_value("email", "pseudonymize", v)
    return _rate(lambda v: engine.mask_value("email", "pseudonymize", v), values)


def collisions(n: int) -> dict[str, tuple[int, float]]:
    engine = MaskEngine(Keyring.generate(), cache_size=0)
    first, last = lists.first_names(), lists.last_names()
    gens = {
        "email": lambda i: f"{first[i % len(first)].lower()}.{last[i // len(first) % len(last)].lower()}{i}"
                           f"@company{i % 1000}.com",
        "person_name": lambda i: f"{first[i % len(first)]} {last[i // len(first) % len(last)]}",
    }
    out = {}
    for data_type, gen in gens.items():
        seen: set[str] = set()
        t0 = time.perf_counter()
        for i in range(n):
            seen.add(engine.mask_text(data_type, "pseudonymize", gen(i)))
        elapsed = time.perf_counter() - t0
        out[data_type] = (n - len(seen), elapsed)
    return out


def row_costs() -> dict[str, float]:
    decision = Decision(True, "agents", mask=(("default", "pseudonymize"),))
    names = ["id", "email", "phone", "ssn", "card_number", "full_name", "notes", "created_at", "amount",
             "active"]
    oids = [23, 25, 25, 25, 25, 25, 25, 1184, 1700, 16]
    cols = [ColumnInfo(n, o) for n, o in zip(names, oids, strict=True)]
    rows = [[b"%d" % i, b"user%d@acme.org" % i, b"+1 415 555 %04d" % i, b"%03d-45-%04d" % (i + 1, i + 1),
             b"4539%012d" % i, b"Ana Lopez%d" % i, b"called back, all fine", b"2024-05-01 10:00:00+00",
             b"12.50", b"t"] for i in range(100)]
    out: dict[str, float] = {}
    for label, cache in (("6 sensitive of 10, cold cache", 0), ("6 sensitive of 10, warm cache", 65536)):
        engine = MaskEngine(Keyring.generate(), cache_size=cache)
        planner = MaskPlanner(engine)
        masker = planner.plan(decision, cols)
        assert masker is not None
        for r in rows:
            masker.mask_row(r)
        best = float("inf")
        for _ in range(ROUNDS):
            t0 = time.process_time()
            for _ in range(10):
                for r in rows:
                    masker.mask_row(r)
            best = min(best, time.process_time() - t0)
        out[f"{label}: CPU per row"] = best / 1000 * 1e6
    engine = MaskEngine(Keyring.generate())
    scan_names = ["id", "title", "status", "comment", "created_at", "amount"]
    scan_cols = [ColumnInfo(n, o) for n, o in zip(scan_names, [23, 25, 25, 25, 1184, 1700], strict=True)]
    scan_rows = [[b"%d" % i, b"Quarterly report %d" % i, b"open", b"looks fine, shipped on time",
                  b"2024-05-01 10:00:00+00", b"12.50"] for i in range(100)]
    masker = MaskPlanner(engine).plan(decision, scan_cols)
    assert masker is not None
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.process_time()
        for _ in range(10):
            for r in scan_rows:
                masker.mask_row(r)
        best = min(best, time.process_time() - t0)
    out["3 text columns scanned, nothing found (6 columns): CPU per row"] = best / 1000 * 1e6
    clean = [ColumnInfo(n, o) for n, o in zip(["id", "created_at", "amount", "active"], [23, 1184, 1700, 16],
                                              strict=True)]
    t0 = time.process_time()
    for _ in range(10_000):
        MaskPlanner(engine).plan(decision, clean)
    out["planning a clean 4-column shape (fresh planner; returns None): CPU per plan"] = \
        (time.process_time() - t0) / 10_000 * 1e6
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=10_000, help="distinct values per type and method")
    parser.add_argument("--collisions", type=int, default=1_000_000, help="distinct inputs for collisions")
    args = parser.parse_args(argv)

    loop_ns = _loop_ns()
    table, pseudo = speed_table(args.values)
    cached = cached_rate(args.values * 10)
    coll = collisions(args.collisions)
    rows = row_costs()
    print(table)
    target = ", ".join(f"{t} {pseudo[t]:,.0f}" for t in ("email", "phone", "credit_card", "us_ssn"))
    coll_lines = "\n".join(
        f"- {t}: {c:,} collisions over {args.collisions:,} distinct inputs "
        f"({c / args.collisions:.4%}; {args.collisions / s:,.0f} values/s)" for t, (c, s) in coll.items())
    row_lines = "\n".join(f"- {label}: {us:.2f} us" for label, us in rows.items())
    body = f"""
Measured on {machine()}. Reproduce: `.venv/bin/python -m bench.mask_speed`
(`--values 5000 --collisions 100000` for a quick look). **Noisy**: 2 shared cores with
other helpers' builds and tests running (an empty Python call cost {loop_ns:.0f} ns during
this run: rerun the same command on an idle machine to compare).

Values per CPU-second (one core), distinct short values, cache off (best of {ROUNDS}
rounds of {args.values:,}):

{table}

Pseudonymize, the issue-4 target (>= 200,000/s): {target}.
Repeated values hit the engine's LRU cache: {cached:,.0f} values/s (email, 1,000
distinct values cycled).

Collisions of pseudonyms (keyed lists: 20,869 first x 18,190 last names, ASCII subsets
for emails, which add a two-digit suffix and a keyed per-domain label):

{coll_lines}

MaskPlan path (issue 6; 100 rows x 10 columns: id, email, phone, ssn, card, name,
free-text notes, timestamptz, numeric, bool):

{row_lines}

Where the time goes (timed piece by piece for an SSN, ~5.5 us in all): one HMAC-SHA-256
(precomputed inner/outer pad states: ~0.7 us instead of ~2.5 us for `hmac.digest`),
digit extraction and separator re-insertion (~1 us, one cached format string per shape),
the "no 4-character run of the original survives" check with its deterministic retry
(~1 us), the engine's dispatch and cache (~1 us). IPv4 pseudonyms are prefix-preserving
(one keyed bit-flip table per prefix); the tables of the first three octets are
memoized, so after the first address of a /24 an address costs one HMAC. On the proxy's
row path a warm LRU of wire values makes a repeated value one dictionary lookup; a cold
row of six sensitive values is about six pseudonyms plus decoding. What is left is
interpreter overhead spread over ~30 small steps per value, so a compiled row rewriter
(C or Rust, same HMAC) is the next step for the issue-6 target of <= 2 us per masked row
on cold data; pure Python stays near 5 us per distinct value.
"""
    print(body)
    write_section("Masking", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
