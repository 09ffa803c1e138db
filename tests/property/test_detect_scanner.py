"""No input makes the scanner crash, misbehave or slow: random text, 1 MB strings, pathological repeats."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.detect import default_scanner
from veil.detect.scanner import FAST_LIMIT

SCANNER = default_scanner()

# pieces that drive many patterns at once; repeated they probe for super-linear behaviour
PIECES = [
    "a@",
    "a.",
    "1 ",
    "1-",
    "12.",
    "+1 ",
    "0",
    "ab:",
    "eyJ",
    "$2b$",
    "-----BEGIN PRIVATE KEY-----",
    "x://",
    "u:p@",
    "AKIA",
    "sk-",
    "hvs.",
    ":",
    "::",
    "DE89",
    "Mr. ",
    "diabetes ",
    "password=",
    "\\n",
    " ",
    "é",
    "🙂",
]


def _check(text: str) -> None:
    findings = SCANNER.scan(text)
    previous_end = -1
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)
        assert f.start >= previous_end  # sorted and non-overlapping
        previous_end = f.end
        assert 0.0 <= f.score <= 1.0
    if findings:
        assert SCANNER.has_candidates(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    _check(text)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
    st.sampled_from([None, "notes", "email", "ssn"]),
)
def test_random_mixtures_of_triggers(text: str, column: str | None) -> None:
    _check(text)
    SCANNER.scan(text, column=column)


@pytest.mark.parametrize("piece", PIECES)
@pytest.mark.parametrize("length", [FAST_LIMIT, 1 << 20])
def test_pathological_repetition_is_fast(piece: str, length: int) -> None:
    text = (piece * (length // len(piece) + 1))[:length]
    started = time.process_time()
    _check(text)
    elapsed = time.process_time() - started
    budget = 0.5 if length <= FAST_LIMIT else 10.0
    assert elapsed < budget, f"{piece!r} x {length}: {elapsed:.2f}s"


def test_one_megabyte_of_mixed_text_is_linear() -> None:
    unit = "Contact jane.doe@example.com or +1 415 555 0132; order ORD-2024-000123 shipped. "
    small, large = unit * 200, unit * 2000
    started = time.process_time()
    SCANNER.scan(small)
    t_small = time.process_time() - started
    started = time.process_time()
    found = SCANNER.scan(large)
    t_large = time.process_time() - started
    assert len([f for f in found if f.type == "email"]) == 2000
    assert t_large < 30 * max(t_small, 0.01)  # 10x the input, well under 30x the time


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=40),
            st.sampled_from(["jane@example.com", "10.0.0.1", "4539 1488 0343 6467"]),
        ),
        max_size=30,
    )
)
def test_scan_many_equals_scan(cells: list[str | None]) -> None:
    assert SCANNER.scan_many(cells) == [SCANNER.scan(c) if c else [] for c in cells]
