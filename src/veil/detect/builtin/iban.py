"""International bank account numbers: country format and ISO 13616 mod-97 (python-stdnum)."""

from __future__ import annotations

from typing import ClassVar

from stdnum import iban

from veil.detect.base import Detector, Pattern


class IbanDetector(Detector):
    name = "iban"
    type = "iban"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(r"\b([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)\b", 0.95, "IBAN (mod 97)"),
        Pattern(r"\b([a-z]{2}[0-9]{2}[a-z0-9]{10,30})\b", 0.85, "IBAN (mod 97)"),
    )
    context = ("iban", "account", "bank", "transfer", "sepa")
    shapes = frozenset({"iban", "account"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        return pattern.score if iban.is_valid(candidate) else None

    def shape(self, value: str, tag: str) -> float | None:
        return 0.95 if iban.is_valid(value) else None
