"""Bank account numbers: digits after an account word, US ABA routing numbers (python-stdnum
checksum) after a routing word, and account-shaped cells under an account column name."""

from __future__ import annotations

from typing import ClassVar

from stdnum.us import rtn

from veil.detect.base import Detector, Pattern, digits_of


class BankAccountDetector(Detector):
    name = "bank_account"
    type = "bank_account"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?i:\b(?:bank )?(?:account|acct|a/c|konto|compte)(?: ?(?:no\.?|number|nr\.?|num|#))?[:\s]{1,3})"
            r"([0-9][0-9\- ]{4,20}[0-9])\b",
            0.75,
            "number after an account word",
        ),
        Pattern(
            r"(?i:\b(?:routing|aba|rtn)(?: ?(?:no\.?|number|#))?[:\s]{1,3})([0-9]{9})\b",
            0.85,
            "ABA routing number",
        ),
        Pattern(r"(?i:\bsort ?code[:\s]{1,3})([0-9]{2}-[0-9]{2}-[0-9]{2})\b", 0.8, "UK sort code"),
    )
    shapes = frozenset({"account"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        digits = digits_of(candidate)
        if pattern.label == "ABA routing number":
            return pattern.score if rtn.is_valid(digits) else None
        return pattern.score if 6 <= len(digits) <= 20 else None

    def shape(self, value: str, tag: str) -> float | None:
        compact = value.replace(" ", "").replace("-", "")
        return 0.9 if compact.isdigit() and 6 <= len(compact) <= 20 else None
