"""Time bounds and filters of ``veil audit search`` / ``veil report``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veil.audit.query import EventFilter, parse_when

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
EVENT = {"type": "request", "time": "2026-11-29T11:30:00.000000Z",
         "identity": {"subject": "ana", "actor": ["agent-7"]},
         "statement": {"tables_read": ["public.customers"], "tables_written": []},
         "masking": [{"type": "email", "method": "pseudonymize"}, {"type": None, "method": "none"}]}


@pytest.mark.parametrize(("text", "expected"), [
    ("1h", "2026-11-29T11:00:00.000000Z"),
    ("2d", "2026-11-27T12:00:00.000000Z"),
    ("2026-11-01", "2026-11-01T00:00:00.000000Z"),
    ("2026-11-01T10:00Z", "2026-11-01T10:00:00.000000Z"),
    ("2026-11-01T12:00:00+02:00", "2026-11-01T10:00:00.000000Z"),
])
def test_parse_when(text: str, expected: str) -> None:
    assert parse_when(text, now=NOW) == expected


def test_parse_when_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_when("yesterday-ish", now=NOW)


@pytest.mark.parametrize(("flt", "hit"), [
    (EventFilter(), True),
    (EventFilter(identity="ana"), True),
    (EventFilter(identity="agent-7"), True),  # the delegation chain counts
    (EventFilter(identity="bob"), False),
    (EventFilter(table="customers"), True),
    (EventFilter(table="public.customers"), True),
    (EventFilter(table="tomers"), False),
    (EventFilter(data_type="email"), True),
    (EventFilter(data_type="phone"), False),
    (EventFilter(event="connect"), False),
    (EventFilter(since="2026-11-29T11:00:00.000000Z", until="2026-11-29T12:00:00.000000Z"), True),
    (EventFilter(since="2026-11-29T11:30:00.000001Z"), False),
    (EventFilter(until="2026-11-29T11:30:00.000000Z"), False),  # until is exclusive
])
def test_filters(flt: EventFilter, hit: bool) -> None:
    assert flt.matches(EVENT) is hit
