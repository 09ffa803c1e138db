"""US SSN pseudonyms in the 900-999 area range, which the SSA never issues.

So a pseudonym can never be a real person's SSN; group 01-99 and serial 0001-9999 keep
the shape valid, separators are kept as written.
"""

from __future__ import annotations

from veil.mask.base import MaskContext
from veil.mask.formats import digits as D
from veil.mask.formats import generic

_ATTEMPTS = 16


def pseudonymize(ctx: MaskContext, value: str) -> str:
    digits = D.digits_of(value)
    if len(digits) != 9:
        return generic.pseudonymize(ctx, "us_ssn", value)
    body = digits
    for attempt in range(_ATTEMPTS):
        s = ctx.stream("pseudonymize/us_ssn", digits, attempt)
        body = f"9{s.below(100):02d}{1 + s.below(99):02d}{1 + s.below(9999):04d}"
        if not D.shares_digit_run(digits, body):
            break
    return D.refill(value, body)


def partial(value: str) -> str:
    """``***-**-6789``: the last four, as commonly printed."""
    seen = 0
    total = len(D.digits_of(value))
    out = []
    for ch in value:
        if "0" <= ch <= "9":
            seen += 1
            out.append(ch if seen > total - 4 else "*")
        else:
            out.append(ch)
    return "".join(out)
