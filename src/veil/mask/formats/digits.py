"""Digit-string helpers shared by the phone, card, SSN and IBAN formats."""

from __future__ import annotations

from veil.mask.base import KeyedStream


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if "0" <= ch <= "9")


def refill(template: str, digits: str) -> str:
    """Put ``digits`` into the digit positions of ``template``, keeping separators."""
    it = iter(digits)
    return "".join(next(it) if "0" <= ch <= "9" else ch for ch in template)


def keyed_digits(s: KeyedStream, n: int) -> str:
    return "".join(s.digit() for _ in range(n))


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit that makes ``payload + digit`` valid."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def shares_digit_run(original: str, candidate: str, run: int = 4) -> bool:
    if len(original) < run:
        return False
    return any(original[i : i + run] in candidate for i in range(len(original) - run + 1))
