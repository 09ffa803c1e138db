"""Payment card numbers: issuer prefix, length and the Luhn checksum (python-stdnum).

Well-known public test numbers (4111 1111 1111 1111 and friends) are documented
everywhere and carry no cardholder: they are never reported.
"""

from __future__ import annotations

from typing import ClassVar

from stdnum import luhn

from veil.detect.base import Detector, Pattern, digits_of

# (prefix range low, high, allowed lengths) per network
_NETWORKS: tuple[tuple[int, int, int, frozenset[int]], ...] = (
    (4, 4, 1, frozenset({13, 16, 19})),  # Visa
    (51, 55, 2, frozenset({16})),  # Mastercard
    (2221, 2720, 4, frozenset({16})),  # Mastercard 2-series
    (34, 34, 2, frozenset({15})),  # Amex
    (37, 37, 2, frozenset({15})),
    (6011, 6011, 4, frozenset({16, 19})),  # Discover
    (644, 649, 3, frozenset({16, 19})),
    (65, 65, 2, frozenset({16, 19})),
    (35, 35, 2, frozenset({16, 17, 18, 19})),  # JCB (3528-3589; generators use all of 35xx)
    (1800, 1800, 4, frozenset({15})),  # JCB 15-digit
    (2131, 2131, 4, frozenset({15})),
    (300, 305, 3, frozenset({14, 16, 19})),  # Diners
    (36, 36, 2, frozenset({14, 16, 19})),
    (38, 39, 2, frozenset({14, 16, 19})),
    (62, 62, 2, frozenset({16, 17, 18, 19})),  # UnionPay
    (5018, 5018, 4, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (5020, 5020, 4, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (5038, 5038, 4, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (6304, 6304, 4, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (6759, 6763, 4, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (56, 58, 2, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (604, 604, 4, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro 0604
    (6390, 6390, 4, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro 6390 (legacy UK range)
)

TEST_NUMBERS = frozenset(
    {
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4000056655665556",
        "5555555555554444",
        "5105105105105100",
        "5200828282828210",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "6011000990139424",
        "3056930009020004",
        "36227206271667",
        "3566002020360505",
        "6200000000000005",
        "4000000000000002",
        "4000000000009995",
        "4000000000000077",
        "4222222222222",
        "5454545454545454",
        "340000000000009",
        "30569309025904",
        "38520000023237",
        "6011000000000004",
    }
)


class CreditCardDetector(Detector):
    name = "credit_card"
    type = "credit_card"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?:^|[^\w.\-])([0-6][0-9]{3}(?:[ \-]?[0-9]){8,15})(?:$|[^\w.\-])", 0.9, "card number (Luhn)"
        ),
    )
    context = ("card", "visa", "mastercard", "amex", "credit", "debit", "payment", "cc")
    shapes = frozenset({"card", "cvv"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        if len({ch for ch in candidate if not ch.isdigit()}) > 1:
            return None  # mixed separators: not how cards are written
        digits = digits_of(candidate)
        if not _network_ok(digits) or not luhn.is_valid(digits):
            return None
        if digits in TEST_NUMBERS:
            return None  # published test numbers belong to nobody, whatever the context says
        return pattern.score

    def shape(self, value: str, tag: str) -> float | None:
        if tag == "cvv":
            return 0.9 if value.isdigit() and len(value) in (3, 4) else None
        digits = digits_of(value)
        return 0.95 if _network_ok(digits) and luhn.is_valid(digits) else None


def _network_ok(digits: str) -> bool:
    for low, high, width, lengths in _NETWORKS:
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return True
    return False
