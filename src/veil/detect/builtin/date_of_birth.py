"""Dates of birth: a date right after "born", "DOB" or "date of birth", or any plausible
birth date in a column whose name says so.

A date alone is not personal (orders have dates too), hence the context requirement.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar

from veil.detect.base import Detector, Pattern

_DATE = (
    r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}"
    r"|[0-9]{1,2}\.? (?:[A-Za-z]{3,9}) [0-9]{4}|(?:[A-Za-z]{3,9}) [0-9]{1,2},? [0-9]{4})"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_NUMERIC = re.compile(r"^([0-9]{1,4})[/.\-]([0-9]{1,2})[/.\-]([0-9]{1,4})$")
_WORDY = re.compile(r"^(?:([0-9]{1,2})\.? ([A-Za-z]{3,9})|([A-Za-z]{3,9}) ([0-9]{1,2}),?) ([0-9]{4})$")


def parse_date(text: str) -> dt.date | None:
    """A calendar date from the common written forms (ISO, d/m/y, m/d/y, "12 March 1985"), else None."""
    text = text.strip()
    m = _NUMERIC.match(text)
    if m:
        a, b, c = (int(g) for g in m.groups())
        orders = [(a, b, c)] if len(m.group(1)) == 4 else [(c, b, a), (c, a, b)]
        for year, month, day in orders:
            full_year = year + (1900 if year > 30 else 2000) if year < 100 else year
            try:
                return dt.date(full_year, month, day)
            except ValueError:
                continue
        return None
    m = _WORDY.match(text)
    if m:
        day = int(m.group(1) or m.group(4))
        month_number = _MONTHS.get((m.group(2) or m.group(3))[:3].lower())
        try:
            return dt.date(int(m.group(5)), month_number, day) if month_number else None
        except ValueError:
            return None
    return None


class DateOfBirthDetector(Detector):
    name = "date_of_birth"
    type = "date_of_birth"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?i:\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|birthday|born(?: on)?|geboren(?: am)?|"
            r"né(?:e)? le|fecha de nacimiento)[:\s]{1,3})(" + _DATE + r")\b",
            0.85,
            "date after a birth word",
        ),
    )
    shapes = frozenset({"date"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        return pattern.score if _plausible(parse_date(candidate)) else None

    def shape(self, value: str, tag: str) -> float | None:
        return 0.95 if _plausible(parse_date(value[:10] if value[:4].isdigit() else value)) else None


def _plausible(date: dt.date | None) -> bool:
    return date is not None and 1890 <= date.year <= dt.date.today().year
