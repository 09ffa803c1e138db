"""Phone numbers, region-aware via libphonenumber (the ``phonenumbers`` package).

A digit run only counts when libphonenumber calls it a valid number for one of the
configured regions (international ``+`` numbers for any region).  Bare digit strings
without ``+`` or separators are weak evidence (order numbers look the same), so they
score below the threshold unless the column name or nearby words say "phone".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import phonenumbers
from phonenumbers import PhoneMetadata

from veil.detect.base import Detector, Pattern, digits_of

# Shapes libphonenumber would happily accept that are something else: dates (2024-01-15,
# 15.01.2024), decimals (47.389087), US EINs (12-3456789), year-first references (2019-637447)
_DATE_LIKE = re.compile(
    r"^(?:[0-9]{4}[\-./][0-9]{1,2}[\-./][0-9]{1,2}|[0-9]{1,2}[\-./][0-9]{1,2}[\-./][0-9]{2,4}"
    r"|[0-9]+\.[0-9]+|[0-9]{2}-[0-9]{7}|(?:19|20)[0-9]{2}-[0-9]+|[0-9]{1,3}(?:\.[0-9]{1,3}){3})$"
)

_MAX_NATIONAL = 13  # longest national number with its trunk prefix; card numbers are longer

DEFAULT_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "IN", "CA", "AU")


class PhoneDetector(Detector):
    name = "phone"
    type = "phone"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(r"(?:^|[^\w+.\-/])(\+[1-9][0-9 ().\-]{6,20}[0-9])\b", 0.9, "international phone number"),
        Pattern(
            # area code, then a group of 3+ digits: dates (2024-01-15, 15.01.2024) never have that shape
            r"(?:^|[^\w+.\-/:#])((?:\([0-9]{2,5}\) ?|[0-9]{2,6}[ .\-])[0-9]{3,8}(?:[ .\-][0-9]{2,5}){0,3})"
            r"(?:$|[^\w.\-/:])",
            0.8,
            "phone number",
        ),
        Pattern(r"(?:^|[^\w+.\-/:#])(0[1-9](?:[ .][0-9]{2}){4})(?:$|[^\w.\-/:])", 0.8, "phone number"),
        # space-grouped pairs (ES 612 80 40 61, NL 06 1234 5678): dates never group with spaces
        Pattern(r"(?:^|[^\w+.\-/:#])([0-9]{2,4}(?: [0-9]{2,4}){2,4})(?:$|[^\w.\-/:])", 0.8, "phone number"),
        Pattern(
            r"(?:^|[^\w+.\-/:#])([1-9][0-9]{9,11})(?:$|[^\w.\-/:])", 0.45, "digits shaped like a phone number"
        ),
    )
    context = ("phone", "tel", "call", "mobile", "cell", "fax", "whatsapp", "sms", "contact", "reach")
    weak = True
    shapes = frozenset({"phone"})

    def __init__(self, regions: tuple[str, ...] = DEFAULT_REGIONS) -> None:
        self.regions = regions
        self._plans = tuple(plan for region in regions if (plan := _RegionPlan.of(region)) is not None)

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        digits = sum(ch.isdigit() for ch in candidate)
        international = candidate.startswith("+")
        if not 7 <= digits <= (15 if international else _MAX_NATIONAL) or _DATE_LIKE.match(candidate):
            return None
        return pattern.score if self._valid(candidate) else None

    def shape(self, value: str, tag: str) -> float | None:
        if len(value) > 32 or _DATE_LIKE.match(value):
            return None
        return 0.9 if self._valid(value) else None

    def _valid(self, candidate: str) -> bool:
        if candidate.startswith("+"):
            return _parses_valid(candidate, None)
        digits = digits_of(candidate)
        # libphonenumber's parse + validate costs ~30 us; its own general pattern per region
        # (checked first) rules most regions out for a fraction of that
        return any(plan.may_be(digits) and _parses_valid(candidate, plan.region) for plan in self._plans)


@dataclass(frozen=True, slots=True)
class _RegionPlan:
    region: str
    prefix: str  # national (trunk) prefix, e.g. "0"
    general: re.Pattern[str]  # the region's national number pattern (all number types)

    @classmethod
    def of(cls, region: str) -> _RegionPlan | None:
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is None or meta.general_desc is None or not meta.general_desc.national_number_pattern:
            return None
        return cls(region, meta.national_prefix or "", re.compile(meta.general_desc.national_number_pattern))

    def may_be(self, digits: str) -> bool:
        if self.general.fullmatch(digits):
            return True
        return (
            bool(self.prefix)
            and digits.startswith(self.prefix)
            and bool(self.general.fullmatch(digits[len(self.prefix) :]))
        )


def _parses_valid(candidate: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(candidate, region))
    except phonenumbers.NumberParseException:
        return False
