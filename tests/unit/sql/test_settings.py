"""Setting changes: what escapes a policy (statement_timeout, search_path) and time values."""

from __future__ import annotations

import pytest

from veil.sql import analyze
from veil.sql.settings import duration_ms, policy_escapes


@pytest.mark.parametrize(("sql", "timeout", "restricted", "refused"), [
    ("set statement_timeout = 0", 30_000, False, True),
    ("set statement_timeout = '1h'", 30_000, False, True),
    ("set statement_timeout = '10s'", 30_000, False, False),
    ("set local statement_timeout to 5000", 30_000, False, False),
    ("reset statement_timeout", 30_000, False, False),
    ("select set_config('statement_timeout', '0', false)", 30_000, False, True),
    ("select set_config('statement_timeout', current_setting('x'), false)", 30_000, False, True),
    ("set statement_timeout = 0", None, False, False),
    ("set search_path = private", None, True, True),
    ("set search_path = private", None, False, False),
    ('set search_path = "$user", public', None, True, False),
    ("reset search_path", None, True, False),
    ("set application_name = 'x'", 1, True, False),
])
def test_policy_escapes(sql: str, timeout: int | None, restricted: bool, refused: bool) -> None:
    settings = [s for info in analyze(sql) for s in info.settings]
    assert (policy_escapes(settings, timeout_ms=timeout, tables_restricted=restricted) is not None) is refused


@pytest.mark.parametrize(("value", "ms"), [("0", 0.0), ("250", 250.0), ("10s", 10_000.0), ("1 min", 60_000.0),
                                           ("2h", 7_200_000.0), ("5us", 0.005), ("x", None), (None, None)])
def test_duration_ms(value: str | None, ms: float | None) -> None:
    assert duration_ms(value) == ms
