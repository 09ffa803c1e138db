"""Coarser values that keep statistics: dates to the year, IPs to /24, coordinates to 0.1 degree,
emails to their domain, addresses to their city.

Types without a meaningful generalization are redacted rather than passed through.
"""

from __future__ import annotations

import re
from typing import ClassVar

from veil.mask.base import MaskContext, Masker
from veil.mask.builtin.redact import PLACEHOLDER
from veil.mask.formats import coords, dates, ip, person

_INTEGER = re.compile(r"^\s*-?\d+\s*$")


def number_range(value: str) -> str | None:
    """``37`` -> ``30-39``, ``1234`` -> ``1000-1999``: the leading digit's decade."""
    if not _INTEGER.match(value):
        return None
    n = int(value)
    sign = -1 if n < 0 else 1
    n = abs(n)
    if n < 10:
        return "0-9"
    step = 10 ** (len(str(n)) - 1)
    low = n // step * step
    lo, hi = low, low + step - 1
    return f"{lo}-{hi}" if sign > 0 else f"-{hi}--{lo}"


class GeneralizeMasker(Masker):
    name: ClassVar[str] = "generalize"

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        if data_type in ("date_of_birth", None):
            year = dates.year(value)
            if year is not None:
                return year
        if data_type in ("ip_address", None):
            net = ip.generalize(value)
            if net is not None:
                return net
        if data_type == "geo_coordinates":
            return coords.generalize(value)
        if data_type == "email" and "@" in value:
            return "*@" + value.rpartition("@")[2].strip().lower()  # the domain: per-provider statistics
        if data_type == "street_address":
            return person.address_partial(value)  # the city (last comma part), never the street
        rng = number_range(value)
        if rng is not None and data_type not in ("us_ssn", "credit_card", "phone", "iban"):
            return rng
        return PLACEHOLDER
