"""Benchmarks: scripts run as ``python -m bench.<name>``, each owning one section of RESULTS.md.

``make bench`` runs them all through ``bench.run_all``.  Every script prints its
figures and replaces its own ``## <area>`` section in ``bench/RESULTS.md`` with
``write_section``, so scripts never clobber each other's results.
"""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")

INTRO = """# veil benchmark results

Figures written by the scripts in `bench/` (`make bench` runs them all; each script
replaces only its own `## <area>` section). Unless a section says otherwise they were
measured on a 2-core VM shared with other work, so they are noisy: compare ratios
measured in the same run, not absolute numbers across sections.
"""


def machine() -> str:
    """One line describing where a figure was measured."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"load average {load}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def write_section(title: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the ``## title`` section of RESULTS.md, keeping every other section."""
    text = path.read_text() if path.exists() else INTRO
    if not text.startswith("# "):
        text = INTRO + "\n" + text
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")
