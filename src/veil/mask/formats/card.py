"""Payment card pseudonyms: same brand prefix digit(s) and length, Luhn-valid, nothing else kept.

``partial`` is the PCI DSS 3.4.1 display form: at most the first six and last four
digits (first six only for 16+ digit numbers), the rest as ``*``.
"""

from __future__ import annotations

from veil.mask.base import MaskContext
from veil.mask.formats import digits as D
from veil.mask.formats import generic

_ATTEMPTS = 16
# Two-digit prefixes that name a brand on their own (Amex 34/37, Diners 30/36/38, JCB 35, UnionPay 62).
_TWO_DIGIT_BRANDS = frozenset({"34", "37", "30", "36", "38", "35", "62"})


def pseudonymize(ctx: MaskContext, value: str) -> str:
    digits = D.digits_of(value)
    if not 12 <= len(digits) <= 19:
        return generic.pseudonymize(ctx, "credit_card", value)
    keep = digits[:2] if digits[:2] in _TWO_DIGIT_BRANDS else digits[:1]
    body = digits
    data = digits.encode("ascii")
    for attempt in range(_ATTEMPTS):
        draw = ctx.draw("pseudonymize/credit_card", data, attempt)
        payload = keep + D.keyed_number(draw, len(digits) - len(keep) - 1)
        body = payload + D.luhn_check_digit(payload)
        if not D.shares_digit_run(digits, body):
            break
    return D.refill(value, body)


def partial(value: str) -> str:
    digits = D.digits_of(value)
    n = len(digits)
    head = 6 if n >= 16 else 0
    tail = 4 if n > 8 else 0
    shown = digits[:head] + "*" * (n - head - tail) + (digits[n - tail :] if tail else "")
    it = iter(shown)
    return "".join(next(it) if "0" <= ch <= "9" else ch for ch in value)
