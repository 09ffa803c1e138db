"""MAC addresses: keyed bytes with the locally-administered bit set, separators and case kept."""

from __future__ import annotations

import re

from veil.mask.base import MaskContext
from veil.mask.formats import generic

_HEX = re.compile(r"[0-9A-Fa-f]")


def mac(ctx: MaskContext, value: str) -> str:
    hexdigits = _HEX.findall(value)
    if len(hexdigits) not in (12, 16):
        return generic.pseudonymize(ctx, "mac_address", value)
    stream = ctx.stream("pseudonymize/mac_address", "".join(hexdigits).lower())
    raw = bytearray(stream.take(len(hexdigits) // 2))
    raw[0] = (raw[0] | 0x02) & 0xFE  # locally administered, unicast: never a vendor's real address
    new = raw.hex()
    upper = any(ch.isupper() for ch in hexdigits)
    it = iter(new.upper() if upper else new)
    return _HEX.sub(lambda _m: next(it), value)


def mac_partial(value: str) -> str:
    """Keep the vendor prefix (first three bytes), hide the device part."""
    seen = 0

    def hide(m: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return m.group() if seen <= 6 else "*"

    return _HEX.sub(hide, value)
