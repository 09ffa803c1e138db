"""Digit-string helpers shared by the phone, card, SSN and IBAN formats."""

from __future__ import annotations

import re

from veil.mask.base import KeyedStream

_NON_DIGIT = re.compile(r"[^0-9]+")
_DIGIT_RUN = re.compile(r"[0-9]+")
# Luhn doubling of one digit, as a str.translate table: 5 -> 2*5-9 = 1, ...
_DOUBLE = str.maketrans("0123456789", "0246813579")


def digits_of(text: str) -> str:
    return _NON_DIGIT.sub("", text)


def refill(template: str, digits: str) -> str:
    """Put ``digits`` into the digit positions of ``template``, keeping separators."""
    if len(template) == len(digits):
        return digits
    out: list[str] = []
    pos = last = 0
    for m in _DIGIT_RUN.finditer(template):
        start, end = m.span()
        out.append(template[last:start])
        out.append(digits[pos : pos + end - start])
        pos += end - start
        last = end
    out.append(template[last:])
    return "".join(out)


def keyed_digits(s: KeyedStream, n: int) -> str:
    return s.digits(n)


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit that makes ``payload + digit`` valid."""
    total = sum(map(int, payload[-1::-2].translate(_DOUBLE))) + sum(map(int, payload[-2::-2]))
    return str((10 - total % 10) % 10)


def shares_digit_run(original: str, candidate: str, run: int = 4) -> bool:
    if len(original) < run or len(candidate) < run:
        return False
    grams = {original[i : i + run] for i in range(len(original) - run + 1)}
    return not grams.isdisjoint([candidate[i : i + run] for i in range(len(candidate) - run + 1)])
