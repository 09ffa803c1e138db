"""Shape-preserving keyed pseudonyms for any value: digits stay digits, letters letters.

The fallback for types without a dedicated format (passport, bank_account, MRN...) and
for values that do not parse as their declared type.  A 4-character run of the original
never survives (deterministic retry), so an ID is not half-kept by chance.
"""

from __future__ import annotations

from veil.mask.base import DIGITS, LOWER, MaskContext, keyed_like, shares_run

_ATTEMPTS = 24


def pseudonymize(ctx: MaskContext, data_type: str, value: str) -> str:
    purpose = f"pseudonymize/{data_type}"
    if not any(ch.isalnum() for ch in value):
        return value
    cand = value
    for attempt in range(_ATTEMPTS):
        cand = keyed_like(ctx.stream(purpose, value, attempt), value)
        if cand != value and not shares_run(value, cand):
            return cand
    return cand


def token(ctx: MaskContext, purpose: str, value: str, length: int, *, avoid: str = "") -> str:
    """A keyed lower-case alphanumeric token (used when a nicer format cannot be found)."""
    alphabet = LOWER + DIGITS
    cand = ""
    for attempt in range(_ATTEMPTS):
        s = ctx.stream(purpose + "/token", value, attempt)
        cand = "".join(alphabet[s.below(len(alphabet))] for _ in range(length))
        if not shares_run(avoid, cand):
            return cand
    return cand


def partial(value: str, keep: int = 4) -> str:
    """Mask every letter and digit but the last ``keep`` (all of them when the value is short)."""
    alnum = [i for i, ch in enumerate(value) if ch.isalnum()]
    keep_from = len(alnum) - keep if len(alnum) > 2 * keep else len(alnum)
    hidden = set(alnum[:keep_from])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))
