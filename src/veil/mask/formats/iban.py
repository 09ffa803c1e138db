"""IBAN pseudonyms: same country and length, BBAN keyed by character class, valid check digits."""

from __future__ import annotations

from veil.mask.base import MaskContext, keyed_like
from veil.mask.formats import generic

_ATTEMPTS = 16


def check_digits(country: str, bban: str) -> str:
    """ISO 7064 MOD 97-10 check digits for ``country`` + ``bban``."""
    rearranged = (bban + country + "00").upper()
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    return f"{98 - number % 97:02d}"


def is_valid(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if len(compact) < 5 or not compact.isascii() or not compact[:2].isalpha() or not compact.isalnum():
        return False
    return check_digits(compact[:2], compact[4:]) == compact[2:4]


def pseudonymize(ctx: MaskContext, value: str) -> str:
    compact = value.replace(" ", "")
    if len(compact) < 8 or not compact.isascii() or not compact[:2].isalpha() or not compact.isalnum():
        return generic.pseudonymize(ctx, "iban", value)
    country, bban = compact[:2], compact[4:]
    cand = compact
    for attempt in range(_ATTEMPTS):
        new_bban = keyed_like(ctx.stream("pseudonymize/iban", compact.upper(), attempt), bban)
        cand = country + check_digits(country.upper(), new_bban) + new_bban
        if not any(compact[i : i + 4].upper() in cand.upper() for i in range(len(compact) - 3)):
            break
    it = iter(cand)
    return "".join(ch if ch == " " else next(it) for ch in value)


def partial(value: str) -> str:
    """Country code and the last four characters."""
    idx = [i for i, ch in enumerate(value) if ch != " "]
    show = set(idx[:2]) | set(idx[-4:])
    return "".join(ch if (i in show or ch == " ") else "*" for i, ch in enumerate(value))
