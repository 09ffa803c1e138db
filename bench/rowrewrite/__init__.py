"""What a compiled DataRow rewriter would buy: a bench-only C prototype vs veil's Python hot path.

Nothing here ships: ``src/`` does not import it and it adds no dependency.  The C source
(``_rowrewrite.c``) is compiled at bench time with the system ``gcc`` against the running
interpreter's headers into a temporary directory; without a compiler the benchmark says
so and measures the Python path alone.

The prototype takes the very ``CompiledPlan`` veil builds (its steps: bit, value index,
value cache dict, masker) and does what ``PlannedRowMasker._rewrite`` does for one
DataRow message: validate and split the fields, look each masked field up in its cache
(calling back into Python on a miss, so the maskers are the same), splice the untouched
bytes with the masked values, fix the lengths.  ``python -m bench.rowrewrite`` times both
on the same rows; see ``__main__``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

SOURCE = Path(__file__).with_name("_rowrewrite.c")
BUILD_DIR = Path(tempfile.gettempdir()) / "veil-bench-rowrewrite"


def build(verbose: bool = False) -> ModuleType | None:
    """The compiled prototype (built once per source version), or None with a printed reason."""
    cc = shutil.which("gcc") or shutil.which("cc")
    include = sysconfig.get_paths().get("include")
    if cc is None or not include or not (Path(include) / "Python.h").exists():
        print("bench.rowrewrite: no C compiler or Python headers; the compiled prototype is skipped")
        return None
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    target = BUILD_DIR / f"_rowrewrite_{digest}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}"
    if not target.exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        cmd = [cc, "-O2", "-shared", "-fPIC", "-Wall", "-Werror", f"-I{include}", str(SOURCE),
               "-o", str(target)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"bench.rowrewrite: compiling the prototype failed; skipped\n{done.stderr}")
            return None
        if verbose:
            print(" ".join(cmd))
    spec = importlib.util.spec_from_file_location("_rowrewrite", target)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- rows like the wide table's, fast to make in bulk (Faker is too slow for 100,000) -------------

FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Aisha")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
        "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore")
STATUSES = ("open", "paid", "refunded")


def luhn_complete(digits: str) -> str:
    """``digits`` plus the Luhn check digit (a card number the scanner recognizes)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


def gb_iban(rng: random.Random) -> str:
    """A GB IBAN with valid mod-97 check digits."""
    bban = "WEST" + "".join(rng.choice("0123456789") for _ in range(14))
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    return f"GB{98 - int(numeric) % 97:02d}{bban}"


def unique_rows(count: int, seed: int = 6, start: int = 1) -> list[tuple[object, ...]]:
    """``count`` rows of the wide table's shape whose sensitive values are all distinct."""
    rng = random.Random(seed)
    rows = []
    for i in range(start, start + count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append((
            i, f"{first} {last}", f"{first.lower()}.{last.lower()}{i}@example.com",
            f"+1-{rng.randint(201, 989)}-{rng.randint(200, 999)}-{i % 10000:04d}",
            f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{i % 10000:04d}",
            luhn_complete("4" + f"{i:09d}" + "".join(rng.choice("0123456789") for _ in range(5))),
            gb_iban(rng), f"{rng.uniform(1, 9999):.2f}", "2026-11-29 06:00:00+00", rng.choice(STATUSES)))
    return rows


def as_data_rows(rows: list[tuple[object, ...]]) -> list[bytes]:
    """Text-format DataRow messages for rows (what PostgreSQL sends for ``SELECT *``)."""
    from veil.wire.pg.writers import data_row

    return [data_row([None if v is None else str(v).encode() for v in row]) for row in rows]


def compiled_rewriter(module: ModuleType, masker: object) -> Callable[[bytes], tuple[bytes, int]]:
    """``PlannedRowMasker._rewrite`` done by the C prototype, on the masker's own compiled plan."""
    from veil.pipeline import masking

    compiled = masker._compiled  # type: ignore[attr-defined]
    steps, width, miss, same = compiled.steps, compiled.width, compiled.value, masking._SAME
    rewrite = module.rewrite
    return lambda message: rewrite(message, width, steps, miss, same)
