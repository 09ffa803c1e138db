"""Phone pseudonyms: same country code, same grouping and punctuation, other digits keyed.

The national number's first digit is drawn from 2-9 so a North American pseudonym stays
a plausible NANP number; no 4-digit run of the original survives.
"""

from __future__ import annotations

import functools

from veil.mask.base import MaskContext
from veil.mask.formats import digits as D
from veil.mask.formats import generic

_ATTEMPTS = 16


@functools.cache
def _calling_codes() -> frozenset[str]:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    return frozenset(str(cc) for cc in COUNTRY_CODE_TO_REGION_CODE)


def country_code(value: str, digits: str | None = None) -> str:
    """The calling code of an international number (``+49 ...`` or ``0049 ...``), else ''."""
    s = value.lstrip()
    if digits is None:
        digits = D.digits_of(s)
    if s.startswith("00"):
        digits = digits[2:]
    elif not s.startswith("+"):
        return ""
    codes = _calling_codes()
    for n in (1, 2, 3):
        if digits[:n] in codes:
            return digits[:n]
    return ""


def pseudonymize(ctx: MaskContext, value: str) -> str:
    digits = D.digits_of(value)
    if len(digits) < 5:
        return generic.pseudonymize(ctx, "phone", value)
    cc = country_code(value, digits)
    prefix = ("00" if value.lstrip().startswith("00") else "") + cc
    national = digits[len(prefix):]
    cand = national
    data = digits.encode("ascii")
    for attempt in range(_ATTEMPTS):
        draw = ctx.draw("pseudonymize/phone", data, attempt)
        cand = "23456789"[draw[0] & 7] + D.keyed_number(draw[1:], len(national) - 1) if national else ""
        if not D.shares_digit_run(national, cand):
            break
    return D.refill(value, prefix + cand)


def partial(value: str) -> str:
    """Country code and the last two digits (a common support-desk form)."""
    digits = D.digits_of(value)
    cc = country_code(value)
    start = len(cc) + (2 if value.lstrip().startswith("00") else 0)
    hidden = digits[:start] + "*" * max(0, len(digits) - start - 2) + digits[-2:]
    if len(digits) - start <= 2:
        hidden = digits[:start] + "*" * (len(digits) - start)
    it = iter(hidden)
    return "".join(next(it) if "0" <= ch <= "9" else ch for ch in value)
