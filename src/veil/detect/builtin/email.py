"""Email addresses, checked against the shipped list of real top-level domains.

The TLD check is what separates ``jane@example.com`` from ``logger@v2.build`` style
noise and ``user@host.local``; the list is the Public Suffix List's top-level labels,
shipped with veil (``veil/detect/data/tlds.txt``) so no lookup ever leaves the process.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import ClassVar

from veil.detect.base import Detector, Pattern

# Local parts: letters and digits of any script plus ._%+- ; written as negated ASCII classes so
# the same pattern means the same in RE2 and in Python's re (the scanner uses both).
_EDGE = r"[\x00-\x24\x26-\x2a\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
_FIRST = r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_LOCAL = r"[^\x00-\x24\x26-\x2a\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"


@functools.cache
def known_tlds() -> frozenset[str]:
    """Top-level domains (lower case), loaded once from package data."""
    text = resources.files("veil.detect").joinpath("data/tlds.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


class EmailDetector(Detector):
    name = "email"
    type = "email"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?:^|" + _EDGE + ")(" + _FIRST + _LOCAL + r"{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})\b",
            0.95,
            "email address",
        ),
    )
    context = ("email", "e-mail", "mail", "contact")
    shapes = frozenset({"email"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        local, _, domain = candidate.rpartition("@")
        if ".." in local or local.endswith(".") or len(local) > 64:
            return None
        if domain.rsplit(".", 1)[-1].lower() not in known_tlds():
            return None
        return pattern.score
