"""``python -m bench.rowrewrite [--unique 2000] [--repeats 5]``: per-row CPU of the DataRow rewrite paths.

In process, on the wide table's shape (10 columns, 6 sensitive + ``status`` scanned), with
the real MaskPlanner/MaskEngine and a fresh key:

* ``list``: split into values, ``mask_row``, re-encode (the path capped results still take);
* ``python``: ``PlannedRowMasker.mask_data_row`` with its row cache off (split offsets,
  value caches, splice);
* ``python+rows``: the same with the row cache (what ``veil serve`` runs);
* ``C``: the bench-only compiled prototype on the same compiled plan and caches.

Each path is also timed *through the relay*: a ``Relay`` and ``Exchange`` over two
``MessageChannel``s whose transports only count bytes (no sockets), fed the 100 rows as
one chunk, as the upstream socket delivers them; ``unmasked`` there is the relay's
forwarding of rows it does not mask, for reference.

*warm*: the bench's 100 rows read over and over (every value, and for ``python+rows``
every row, is cached); *cold*: distinct rows through a fresh engine and planner (no cache
can help: every sensitive value is masked for the first time).  CPU time
(``time.process_time``), best of ``--repeats``.  It prints its table; ``bench.mask_wide_read``
embeds it in RESULTS.md with the end-to-end projection.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.rowrewrite import as_data_rows, build, compiled_rewriter, unique_rows

COLUMNS = (("id", 23), ("full_name", 25), ("email", 25), ("phone", 25), ("ssn", 25), ("card", 25),
           ("iban", 25), ("amount", 1700), ("created_at", 1184), ("status", 25))
PATHS = ("list", "python", "python+rows", "C")


@dataclass(frozen=True)
class Figures:
    warm: dict[str, float]  # path -> us per row
    cold: dict[str, float]
    relay: dict[str, float]  # path -> us per row through Relay + Exchange, warm
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


class _Transport(asyncio.Transport):
    """Counts what is written; no socket."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: Any) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Adapter:
    """A RowMasker whose ``mask_data_row`` is any rewrite function (the C prototype's)."""

    def __init__(self, rewrite: Callable[[bytes], tuple[bytes, int]]) -> None:
        self._rewrite = rewrite

    def mask_data_row(self, message: bytes) -> bytes:
        return self._rewrite(message)[0]

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        raise NotImplementedError

    def provenance(self) -> list[object]:
        return []


def relay_per_row(masker: object | None, rows: list[bytes], loops: int, repeats: int) -> float:
    """CPU us per row of a 100-row chunk through the upstream side of a Relay with ``masker`` active."""
    from veil.frontends.pg.exchange import Exchange
    from veil.frontends.pg.relay import Relay
    from veil.pipeline.hooks import Session
    from veil.upstream.channel import MessageChannel
    from veil.values import Identity

    client, upstream = MessageChannel(), MessageChannel()
    client.connection_made(_Transport())
    upstream.connection_made(_Transport())
    exchange = Exchange(Session(Identity("bench")), None)  # type: ignore[arg-type]
    relay = Relay(client, upstream, exchange, on_end=lambda r, why: None)
    exchange.masker = masker  # type: ignore[assignment]
    relay._masker_changed(masker is not None)  # the relay routes DataRows to the Exchange
    side = relay._from_upstream
    chunk = b"".join(rows)
    side.data(chunk)  # warm
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(loops):
            side.data(chunk)
        best = min(best, (time.process_time() - started) / (loops * len(rows)) * 1e6)
    return best


def batched_per_row(masker: object, rows: list[bytes], loops: int, repeats: int) -> float:
    """CPU us per row if the relay handed a run of DataRows to the masker in one loop (a sketch).

    Not veil's code: the framing loop of ``_Side._frames`` with the per-message dispatch
    (``upstream_message`` -> handler -> ``_data_row``) replaced by a direct call, to show
    what a batched hand-off in the relay would save.
    """
    import struct

    length_of = struct.Struct("!i").unpack_from
    rewrite = masker.mask_data_row  # type: ignore[attr-defined]
    chunk = b"".join(rows)

    def frames(data: bytes) -> list[bytes]:
        out: list[bytes] = []
        append = out.append
        pos, n, sent = 0, len(data), 0
        while n - pos >= 5:
            end = pos + 1 + length_of(data, pos + 1)[0]
            if data[pos] == 68:  # D
                masked = rewrite(data[pos:end])
                sent += len(masked)
                append(masked)
            else:
                append(data[pos:end])
            pos = end
        return out

    frames(chunk)
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(loops):
            b"".join(frames(chunk))
        best = min(best, (time.process_time() - started) / (loops * len(rows)) * 1e6)
    return best


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
    relay: dict[str, float] = {"unmasked": relay_per_row(None, warm_rows, warm_loops, repeats)}
    for path in paths:
        plan = planner(row_cache=path == "python+rows")
        fn = row_function(path, plan, module)
        cpu_per_row(fn, warm_rows, 1)  # fill the caches
        warm[path] = min(cpu_per_row(fn, warm_rows, warm_loops) for _ in range(repeats))
        if path == "C":
            relay[path] = relay_per_row(_Adapter(fn), warm_rows, warm_loops, repeats)  # type: ignore[arg-type]
        elif path != "list":
            relay[path] = relay_per_row(masker_for(plan), warm_rows, warm_loops, repeats)
        if path == "python+rows":
            relay["batched"] = batched_per_row(masker_for(plan), warm_rows, warm_loops, repeats)
        cold[path] = min(cpu_per_row(row_function(path, planner(path == "python+rows"), module), cold_rows, 1)
                         for _ in range(repeats))
    return Figures(warm, cold, relay, unique, repeats, module is not None)


def table(f: Figures) -> str:
    lines = ["| path | warm us/row (100 rows repeated) | warm through Relay + Exchange | "
             "cold us/row (distinct rows, fresh caches) |",
             "|---|---:|---:|---:|",
             f"| unmasked: rows forwarded by the relay as slices (reference) | "
             f"| {f.relay['unmasked']:.2f} | |"]
    names = {"list": "values list: split, `mask_row`, re-encode (capped results)",
             "python": "Python splice, value caches, no row cache",
             "python+rows": "Python splice + row cache (what `veil serve` runs)",
             "C": "compiled prototype (bench only), value caches"}
    for path in PATHS:
        if path in f.warm:
            through = f"{f.relay[path]:.2f}" if path in f.relay else ""
            lines.append(f"| {names[path]} | {f.warm[path]:.2f} | {through} | {f.cold[path]:.1f} |")
    if "batched" in f.relay:
        lines.append("| Python splice + row cache, DataRows handed over in one loop (sketch of a relay "
                     f"change, bench only) | | {f.relay['batched']:.2f} | |")
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
