"""US Social Security numbers under the SSA rules (python-stdnum ``us.ssn``).

No area 000, 666 or 9xx, no group 00, no serial 0000, and not the numbers the SSA
published as invalid.  ``123-45-6789`` style is strong evidence; nine bare digits are
not (they are everywhere), so they need the name ``ssn`` or a nearby context word.
"""

from __future__ import annotations

from typing import ClassVar

from stdnum.us import ssn

from veil.detect.base import Detector, Pattern, digits_of


class UsSsnDetector(Detector):
    name = "us_ssn"
    type = "us_ssn"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(r"(?:^|[^\w\-.])([0-8][0-9]{2}-[0-9]{2}-[0-9]{4})(?:$|[^\w\-.])", 0.85, "SSN (SSA rules)"),
        Pattern(r"(?:^|[^\w\-.])([0-8][0-9]{2} [0-9]{2} [0-9]{4})(?:$|[^\w\-.])", 0.6, "SSN (SSA rules)"),
        Pattern(r"(?:^|[^\w\-.])([0-8][0-9]{8})(?:$|[^\w\-.])", 0.4, "nine digits (SSA rules)"),
    )
    context = ("ssn", "social security", "social sec", "ss#", "ss #")
    weak = True
    shapes = frozenset({"ssn"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        return pattern.score if ssn.is_valid(digits_of(candidate)) else None

    def shape(self, value: str, tag: str) -> float | None:
        digits = digits_of(value)
        return (
            0.95
            if len(digits) == len(value.replace("-", "").replace(" ", "")) and ssn.is_valid(digits)
            else None
        )
