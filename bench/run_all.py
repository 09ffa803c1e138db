"""Run every benchmark in ``bench/``: ``python -m bench.run_all [NAME ...]``.

Known benchmarks run first in a fixed order (cheap, foundational ones first); any
other ``bench/*.py`` module that defines ``main()`` runs after them, alphabetically.
A benchmark that is not there yet is skipped, not an error.  Each runs in its own
process, so one crashing or leaking memory cannot spoil the figures of the next.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ("relay_pgbench", "sql_classify", "identity_policy", "detect_quality", "mask_speed",
         "audit_throughput", "agents_http")
NOT_BENCHMARKS = {"__init__", "run_all", "fuzz"}  # fuzz runs for as long as it is let: `make fuzz`


def has_main(path: Path) -> bool:
    """Whether the module defines a top-level ``main`` (read, not imported: importing may be costly)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
               for node in tree.body)


def discover(names: list[str] | None = None) -> list[str]:
    present = {p.stem for p in HERE.glob("*.py") if p.stem not in NOT_BENCHMARKS and has_main(p)}
    ordered = [n for n in ORDER if n in present] + sorted(present - set(ORDER))
    if names:
        missing = sorted(set(names) - present)
        if missing:
            print(f"not present (skipped): {', '.join(missing)}")
        ordered = [n for n in ordered if n in names]
    return ordered


def main(argv: list[str] | None = None) -> int:
    names = discover(list(argv if argv is not None else sys.argv[1:]) or None)
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent)
        status = "ok" if code == 0 else f"exit {code}"
        print(f"=== bench.{name}: {status} in {time.monotonic() - started:.0f}s")
        if code != 0:
            failed.append(name)
    summary = f"{len(names) - len(failed)}/{len(names)} benchmarks ok"
    print(f"\n{summary}; failed: {', '.join(failed)}" if failed else f"\n{summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
