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
    data = digits.encode("ascii")
    for attempt in range(_ATTEMPTS):
        x = int.from_bytes(ctx.draw("pseudonymize/us_ssn", data, attempt)[:16], "big")
        x, serial = divmod(x, 9999)
        x, group = divmod(x, 99)
        body = f"9{x % 100:02d}{group + 1:02d}{serial + 1:04d}"
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
