"""Detection speed: CPU time for 1,000,000 short cells at 2% and 28% sensitive, column mode.

    .venv/bin/python -m bench.detect_speed [--cells 1000000] [--presidio-cells 2000] [--no-write]

Cells are drawn (seeded) from pools of unique values made by the quality corpus
generators: clean cells from the hard-negative kinds (dates, order numbers, hashes,
words, prices...), sensitive ones from the value-detectable types.  The scanner caches
nothing per value, so drawing from a pool does not flatter it.  Measured: the
``has_candidates`` prefilter, ``scan`` cell by cell, and ``scan_many`` per column batch
(the proxy's column mode), all as process CPU time; Presidio's pattern recognizers on a
subset; and, when the ``hyperscan`` package is installed, Hyperscan as the prefilter.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from bench.detect_quality import NEGATIVE_COLUMNS, VALUE_DETECTABLE, Gen, presidio_predict, write_subsection

SHORT_CLEAN = (
    "date",
    "order",
    "invoice",
    "word",
    "price",
    "quantity",
    "status",
    "sku",
    "city",
    "percent",
    "duration",
    "version",
    "uuid",
    "md5",
    "timestamp",
    "company",
    "isbn",
)
SENSITIVE = VALUE_DETECTABLE


def pools(seed: int = 7, per_kind: int = 400) -> tuple[list[str], list[str]]:
    gen = Gen(seed)
    clean = [gen.negative(kind) for kind in SHORT_CLEAN for _ in range(per_kind)]
    sensitive = [str(getattr(gen, t)()) for t in SENSITIVE for _ in range(per_kind // 2)]
    assert {k for _, k in NEGATIVE_COLUMNS} >= set(SHORT_CLEAN)
    return clean, sensitive


def draw(n: int, share: float, clean: list[str], sensitive: list[str], seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    return [rnd.choice(sensitive) if rnd.random() < share else rnd.choice(clean) for _ in range(n)]


def cpu_rate(fn: Callable[[], object], n: int) -> float:
    """Cells per CPU second of this process."""
    started = time.process_time()
    fn()
    return n / max(time.process_time() - started, 1e-9)


def hyperscan_rate(cells: list[str]) -> tuple[float, float] | None:
    """(cells/s, compile seconds) of Hyperscan as the prefilter, in prefilter mode; None if absent."""
    try:
        import hyperscan
    except ImportError:
        return None
    from veil.detect import default_scanner

    patterns = [d_pattern.regex.encode() for d in default_scanner().detectors for d_pattern in d.patterns]
    flag = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SINGLEMATCH
    db = hyperscan.Database()
    started = time.monotonic()
    db.compile(
        expressions=patterns,
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[flag | hyperscan.HS_FLAG_ALLOWEMPTY] * len(patterns),
    )
    compile_s = time.monotonic() - started
    scratch = hyperscan.Scratch(db)

    def stop(*_: object) -> bool:
        return True  # first match is enough for a prefilter

    def run() -> None:
        for cell in cells:
            try:
                db.scan(cell.encode(), match_event_handler=stop, scratch=scratch)
            except hyperscan.ScanTerminated:  # how a stopped scan reports a hit
                pass

    return cpu_rate(run, len(cells)), compile_s


def main(argv: list[str] | None = None) -> int:
    from bench import machine
    from veil.detect import default_scanner

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--presidio-cells", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    started = time.monotonic()
    scanner = default_scanner()
    compile_s = time.monotonic() - started
    clean, sensitive = pools()
    rows = []
    rates: dict[float, float] = {}
    for share in (0.02, 0.28):
        cells = draw(args.cells, share, clean, sensitive)
        for cell in cells[:50_000]:  # warm up: RE2 builds its DFA states lazily, a running proxy is warm
            scanner.scan(cell)
        prefilter = cpu_rate(lambda cells=cells: [scanner.has_candidates(c) for c in cells], len(cells))
        per_cell = cpu_rate(lambda cells=cells: [scanner.scan(c, column="value") for c in cells], len(cells))

        def batched(cells: list[str] = cells) -> None:
            for i in range(0, len(cells), 1000):
                scanner.scan_many(cells[i : i + 1000], column="value")

        column_mode = cpu_rate(batched, len(cells))
        rates[share] = column_mode
        findings = sum(bool(scanner.scan(c)) for c in cells[:20000]) / min(len(cells), 20000)
        rows.append(
            f"| {share:.0%} | {prefilter:,.0f} | {per_cell:,.0f} | {column_mode:,.0f} | {findings:.1%} |"
        )
        print(rows[-1], flush=True)

    presidio = presidio_predict()
    presidio_line = "- Presidio: not installed."
    if presidio is not None:
        subset = draw(args.presidio_cells, 0.02, clean, sensitive, seed=5)
        p_rate = cpu_rate(lambda: [presidio[0](c, None) for c in subset], len(subset))
        presidio_line = (
            f"- Presidio pattern recognizers (default English set without spaCy), {len(subset):,} cells "
            f"at 2%: {p_rate:,.0f} cells/s ({1e3 / p_rate:.2f} ms CPU per cell); veil column mode is "
            f"{rates[0.02] / p_rate:,.0f}x faster."
        )
    hs = hyperscan_rate(draw(min(args.cells, 200_000), 0.02, clean, sensitive, seed=3))
    hs_line = "- Hyperscan: not installed (`pip install hyperscan`)."
    if hs is not None:
        probe = draw(min(args.cells, 200_000), 0.02, clean, sensitive, seed=3)
        re2_rate = cpu_rate(lambda: [scanner.has_candidates(c) for c in probe], len(probe))
        hs_line = (
            f"- Prefilter engine, same 200k cells: RE2 Set {re2_rate:,.0f} cells/s vs Hyperscan "
            f"(prefilter mode, one callback stop per hit) {hs[0]:,.0f} cells/s; Hyperscan compile "
            f"{hs[1]:.1f} s vs RE2 {compile_s:.1f} s (whole scanner). RE2 kept: faster on short cells "
            "(less per-call overhead), already a dependency, no per-thread scratch."
        )
    text = "\n".join(
        [
            f"Measured {machine()} (noisy: 2 cores shared with other work).",
            f"{args.cells:,} short cells per row, drawn from {len(clean):,} unique clean values "
            f"({', '.join(SHORT_CLEAN)}) and {len(sensitive):,} unique sensitive ones "
            f"({', '.join(SENSITIVE)}). CPU time of this process. "
            "Reproduce: `.venv/bin/python -m bench.detect_speed`.",
            "",
            "| sensitive | prefilter only, cells/s | `scan` per cell, cells/s "
            "| column mode (`scan_many`), cells/s | cells with findings |",
            "|---|---|---|---|---|",
            *rows,
            "",
            presidio_line,
            hs_line,
            f"- Scanner build (all patterns into one RE2 set + per-pattern regexes): {compile_s:.2f} s, "
            "once per process.",
        ]
    )
    print(text)
    if not args.no_write:
        write_subsection("Speed", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
