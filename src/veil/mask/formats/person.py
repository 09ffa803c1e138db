"""Person names and street addresses from keyed lists: "Ana Lopez" is always "Maria Keller".

The key is the case- and space-normalized value, so ``ANA  LOPEZ`` and ``Ana Lopez`` get
the same person, written in the original's case style.  The shape is kept: the number
of name parts, ``Last, First`` order, the number of comma parts of an address.
"""

from __future__ import annotations

import re

from veil.mask.base import MaskContext
from veil.mask.formats import generic, lists

_NUMBER = re.compile(r"\d+")


def _normal(value: str) -> str:
    return " ".join(value.casefold().split())


def _case_like(template: str, text: str) -> str:
    # str.isupper/islower ignore non-letters and need at least one cased letter
    if template.isupper():
        return text.upper()
    if template.islower():
        return text.lower()
    return text


def name(ctx: MaskContext, value: str) -> str:
    comma = "," in value
    if comma:  # "Lopez, Ana" is the same person as "Ana Lopez"
        family, _, given = value.partition(",")
        norm = _normal(f"{given.replace(',', ' ')} {family}")
    else:
        norm = _normal(value)
    if not norm:
        return value
    count = norm.count(" ") + 1
    first, last = lists.first_names(), lists.last_names()
    data = norm.encode("utf-8", "surrogatepass")
    for attempt in range(8):
        if count <= 3:  # one HMAC: 256 bits cover three list picks
            x = int.from_bytes(ctx.draw("pseudonymize/person_name", data, attempt), "big")
            out = []
            for _ in range(count - 1):
                x, i = divmod(x, len(first))
                out.append(first[i])
            out.append(last[x % len(last)])
        else:
            s = ctx.stream("pseudonymize/person_name", norm, attempt)
            out = [first[s.below(len(first))] for _ in range(count - 1)] + [last[s.below(len(last))]]
        text = f"{out[-1]}, {' '.join(out[:-1])}" if comma and len(out) > 1 else " ".join(out)
        if " ".join(out).casefold() != norm:
            return _case_like(value, text)
    return generic.pseudonymize(ctx, "person_name", value)


def address(ctx: MaskContext, value: str) -> str:
    norm = _normal(value)
    if not norm:
        return value
    s = ctx.stream("pseudonymize/street_address", norm)
    last, suffixes = lists.last_names(), lists.street_suffixes()
    parts = value.split(",")
    number = _NUMBER.search(parts[0])
    width = len(number.group()) if number else 3
    house = str(1 + s.below(10 ** min(width, 5) - 1))
    street = f"{house} {last[s.below(len(last))]} {suffixes[s.below(len(suffixes))]}"
    rest = []
    for part in parts[1:]:
        stripped = part.strip()
        if any(ch.isdigit() for ch in stripped):
            rest.append(" " + generic.pseudonymize(ctx, "street_address", stripped))
        elif stripped:
            rest.append(" " + last[s.below(len(last))])
        else:
            rest.append(part)
    return _case_like(value, ",".join([street, *rest]))


def name_partial(value: str) -> str:
    """Initials: ``Ana Lopez`` -> ``A. L.``."""
    return " ".join(f"{p[0]}." for p in value.replace(",", " ").split() if p)


def address_partial(value: str) -> str:
    """Only the last comma part (usually the city or country); the street never."""
    parts = [p.strip() for p in value.split(",")]
    return "***" if len(parts) < 2 else "***, " + parts[-1]
