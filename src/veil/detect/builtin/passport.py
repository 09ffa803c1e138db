"""Passport numbers: 6-9 letters and digits after a "passport" word, or under a passport column name.

There is no common checksum across countries, so the context is the evidence.
"""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern


class PassportDetector(Detector):
    name = "passport"
    type = "passport"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?i:\bpass(?:port|eport|aporte|aporto)(?: ?(?:no\.?|number|nr\.?|num|#|id))?[:\s]{1,3})"
            r"([A-Z0-9]{6,9})\b",
            0.85,
            "number after a passport word",
        ),
    )
    shapes = frozenset({"passport"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        return pattern.score if any(c.isdigit() for c in candidate) else None

    def shape(self, value: str, tag: str) -> float | None:
        compact = value.replace(" ", "").upper()
        ok = (
            6 <= len(compact) <= 9
            and compact.isalnum()
            and compact.isascii()
            and any(c.isdigit() for c in compact)
        )
        return 0.95 if ok else None
