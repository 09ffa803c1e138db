"""Digit-string helpers shared by the phone, card, SSN and IBAN formats."""

from __future__ import annotations

import functools
import re

from veil.mask.base import KeyedStream

_NON_DIGIT = re.compile(r"[^0-9]+")
# every digit becomes '9', so templates of one shape share one cached format string
_SHAPE = str.maketrans("012345678", "999999999")
# Luhn doubling of one digit, as a str.translate table: 5 -> 2*5-9 = 1, ...
_DOUBLE = str.maketrans("0123456789", "0246813579")


def digits_of(text: str) -> str:
    return _NON_DIGIT.sub("", text)


def refill(template: str, digits: str) -> str:
    """Put ``digits`` into the digit positions of ``template``, keeping separators."""
    if len(template) == len(digits):
        return digits
    return _filler(template.translate(_SHAPE)).format(*digits)


@functools.lru_cache(maxsize=1024)
def _filler(shape: str) -> str:
    """A format string with one positional field per digit of ``shape`` (digits shown as '9')."""
    out = []
    n = 0
    for ch in shape:
        if ch == "9":
            out.append(f"{{{n}}}")
            n += 1
        else:
            out.append(ch.replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def keyed_number(draw: bytes, k: int) -> str:
    """``k`` decimal digits (k <= 40) from 32 keyed bytes."""
    if k <= 0:
        return ""
    return f"{int.from_bytes(draw, 'big') % 10**k:0{k}d}"


def keyed_digits(s: KeyedStream, n: int) -> str:
    return s.digits(n)


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit that makes ``payload + digit`` valid."""
    # digit sums via byte sums (C loops): each ASCII digit is its value + 48
    total = sum(payload[-1::-2].translate(_DOUBLE).encode("ascii")) + sum(payload[-2::-2].encode("ascii")) \
        - 48 * len(payload)
    return str((10 - total % 10) % 10)


def shares_digit_run(original: str, candidate: str, run: int = 4) -> bool:
    return any(original[i : i + run] in candidate for i in range(len(original) - run + 1))
