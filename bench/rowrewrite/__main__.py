"""``python -m bench.rowrewrite [--unique 2000] [--repeats 5]``: per-row CPU of the DataRow rewrite paths.

In process, on the wide table's shape (10 columns, 6 sensitive + ``status`` scanned), with
the real MaskPlanner/MaskEngine and a fresh key:

* ``list``: split into values, ``mask_row``, re-encode (the path capped results still take);
* ``python``: ``PlannedRowMasker.mask_data_row`` with its row cache off (split offsets,
  value caches, splice);
* ``python+rows``: the same with the row cache (what ``veil serve`` runs);
* ``C``: the bench-only compiled prototype on the same compiled plan and caches.

*warm*: the bench's 100 rows read over and over (every value, and for ``python+rows``
every row, is cached); *cold*: distinct rows through a fresh engine and planner (no cache
can help: every sensitive value is masked for the first time).  CPU time
(``time.process_time``), best of ``--repeats``.  It prints its table; ``bench.mask_wide_read``
embeds it in RESULTS.md with the end-to-end projection.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.rowrewrite import as_data_rows, build, compiled_rewriter, unique_rows

COLUMNS = (("id", 23), ("full_name", 25), ("email", 25), ("phone", 25), ("ssn", 25), ("card", 25),
           ("iban", 25), ("amount", 1700), ("created_at", 1184), ("status", 25))
PATHS = ("list", "python", "python+rows", "C")


@dataclass(frozen=True)
class Figures:
    warm: dict[str, float]  # path -> us per row
    cold: dict[str, float]
    unique: int
    repeats: int
    compiled: bool


def wide_rows() -> list[bytes]:
    """The 100 rows ``bench.mask_wide_read`` creates (same Faker seed), as DataRow messages."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(6)
    rows = [(i, fake.name(), fake.email(), fake.phone_number(), fake.ssn(), fake.credit_card_number(),
             fake.iban(), round(fake.pyfloat(min_value=1, max_value=9999), 2), "2026-11-29 06:00:00+00",
             fake.random_element(("open", "paid", "refunded"))) for i in range(1, 101)]
    return as_data_rows(rows)


def planner(row_cache: bool) -> object:
    from veil.mask.engine import MaskEngine
    from veil.mask.keys import Keyring
    from veil.pipeline.masking import MaskPlanner

    return MaskPlanner(MaskEngine(Keyring.generate()), row_cache=row_cache)


def masker_for(plan: object) -> object:
    from veil.values import ColumnInfo, Decision

    decision = Decision(True, "bench-masked", mask=(("default", "pseudonymize"),))
    return plan.plan(decision, [ColumnInfo(n, oid) for n, oid in COLUMNS])  # type: ignore[attr-defined]


def row_function(path: str, plan: object, module: object | None) -> Callable[[bytes], object]:
    from veil.wire.pg.readers import data_row_values
    from veil.wire.pg.writers import data_row

    masker = masker_for(plan)
    if path == "list":
        return lambda raw: data_row(masker.mask_row(data_row_values(raw)))  # type: ignore[attr-defined]
    if path == "C":
        return compiled_rewriter(module, masker)  # type: ignore[arg-type]
    return masker.mask_data_row  # type: ignore[attr-defined]


def cpu_per_row(fn: Callable[[bytes], object], rows: list[bytes], loops: int) -> float:
    started = time.process_time()
    for _ in range(loops):
        for raw in rows:
            fn(raw)
    return (time.process_time() - started) / (loops * len(rows)) * 1e6


def check_same(module: object | None, rows: list[bytes]) -> None:
    """The C prototype must give byte-identical rows and the same changed-column patterns."""
    if module is None:
        return
    plan = planner(row_cache=False)
    masker = masker_for(plan)
    c = compiled_rewriter(module, masker)  # type: ignore[arg-type]
    for raw in rows:
        if c(raw) != masker._rewrite(raw):  # type: ignore[attr-defined]
            raise RuntimeError("the compiled prototype disagrees with the Python rewrite")


def measure(unique: int = 2000, repeats: int = 5, warm_loops: int = 100) -> Figures:
    module = build()
    warm_rows = wide_rows()
    cold_rows = as_data_rows(unique_rows(unique, seed=7, start=1_000_001))
    check_same(module, warm_rows + cold_rows[:200])
    paths = [p for p in PATHS if p != "C" or module is not None]
    warm: dict[str, float] = {}
    cold: dict[str, float] = {}
    for path in paths:
        plan = planner(row_cache=path == "python+rows")
        fn = row_function(path, plan, module)
        cpu_per_row(fn, warm_rows, 1)  # fill the caches
        warm[path] = min(cpu_per_row(fn, warm_rows, warm_loops) for _ in range(repeats))
        cold[path] = min(cpu_per_row(row_function(path, planner(path == "python+rows"), module), cold_rows, 1)
                         for _ in range(repeats))
    return Figures(warm, cold, unique, repeats, module is not None)


def table(f: Figures) -> str:
    lines = ["| path | warm us/row (100 rows repeated) | cold us/row (distinct rows, fresh caches) |",
             "|---|---:|---:|"]
    names = {"list": "values list: split, `mask_row`, re-encode (capped results)",
             "python": "Python splice, value caches, no row cache",
             "python+rows": "Python splice + row cache (what `veil serve` runs)",
             "C": "compiled prototype (bench only), value caches"}
    for path in PATHS:
        if path in f.warm:
            lines.append(f"| {names[path]} | {f.warm[path]:.2f} | {f.cold[path]:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unique", type=int, default=2000, help="distinct rows for the cold figure")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import os

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    figures = measure(args.unique, args.repeats)
    print(f"load average at start {load}; cold over {figures.unique} distinct rows, "
          f"best of {figures.repeats}")
    print(table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
