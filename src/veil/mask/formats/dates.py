"""Dates in text: keyed day shift (pseudonymize) and year-only (generalize), format kept.

Recognized: ISO ``YYYY-MM-DD`` (with anything after it, e.g. a time), ``DD.MM.YYYY``,
``MM/DD/YYYY`` (``DD/MM/YYYY`` when the first field is over 12).  A shift stays within
+-180 days and never returns the same date.
"""

from __future__ import annotations

import datetime as dt
import re

from veil.mask.base import MaskContext

_ISO = re.compile(r"^(\s*)(\d{4})-(\d{1,2})-(\d{1,2})(.*)$", re.S)
_DOT = re.compile(r"^(\s*)(\d{1,2})\.(\d{1,2})\.(\d{4})(.*)$", re.S)
_SLASH = re.compile(r"^(\s*)(\d{1,2})/(\d{1,2})/(\d{4})(.*)$", re.S)
MAX_SHIFT = 180


def parse(value: str) -> tuple[dt.date, str] | None:
    """(date, format tag) or None; the tag says how to write it back."""
    try:
        if m := _ISO.match(value):
            return dt.date(int(m[2]), int(m[3]), int(m[4])), "iso"
        if m := _DOT.match(value):
            return dt.date(int(m[4]), int(m[3]), int(m[2])), "dot"
        if m := _SLASH.match(value):
            a, b = int(m[2]), int(m[3])
            if a > 12:
                return dt.date(int(m[4]), b, a), "dmy"
            return dt.date(int(m[4]), a, b), "mdy"
    except ValueError:
        return None
    return None


def _write(value: str, tag: str, d: dt.date) -> str:
    if tag == "iso":
        m = _ISO.match(value)
        assert m is not None
        return f"{m[1]}{d.year:04d}-{d.month:02d}-{d.day:02d}{m[5]}"
    m = (_DOT if tag == "dot" else _SLASH).match(value)
    assert m is not None
    if tag == "dot":
        return f"{m[1]}{d.day:02d}.{d.month:02d}.{d.year:04d}{m[5]}"
    a, b = (d.day, d.month) if tag == "dmy" else (d.month, d.day)
    return f"{m[1]}{a:02d}/{b:02d}/{d.year:04d}{m[5]}"


def shift_days(ctx: MaskContext, purpose: str, key_value: str) -> int:
    s = ctx.stream(purpose, key_value)
    n = 1 + s.below(MAX_SHIFT)
    return n if s.below(2) else -n


def shift(ctx: MaskContext, data_type: str, value: str) -> str | None:
    parsed = parse(value)
    if parsed is None:
        return None
    d, tag = parsed
    try:
        shifted = d + dt.timedelta(days=shift_days(ctx, f"pseudonymize/{data_type}", d.isoformat()))
    except OverflowError:
        return None
    return _write(value, tag, shifted)


def year(value: str) -> str | None:
    parsed = parse(value)
    return None if parsed is None else f"{parsed[0].year:04d}"
