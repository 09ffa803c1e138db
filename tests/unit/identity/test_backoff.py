"""Failed-login backoff: nothing below five failures, then doubling, reset on success, forgotten later."""

from __future__ import annotations

import logging

import pytest

from veil.identity.backoff import FailureTracker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_exponentially_after_five(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    t = FailureTracker(clock=clock)
    for _ in range(4):
        t.record_failure("alice", "10.0.0.1")
    assert t.backoff_seconds("alice", "10.0.0.1") == 0.0
    with caplog.at_level(logging.INFO, logger="veil.identity"):
        t.record_failure("alice", "10.0.0.1")
    assert t.backoff_seconds("alice", "10.0.0.1") == 1.0
    assert "backing off" in caplog.text and "alice" in caplog.text
    t.record_failure("alice", "10.0.0.1")
    t.record_failure("alice", "10.0.0.1")
    assert t.backoff_seconds("alice", "10.0.0.1") == 4.0
    clock.now += 3
    assert t.backoff_seconds("alice", "10.0.0.1") == pytest.approx(1.0)
    assert t.backoff_seconds("alice", "10.0.0.2") == 0.0  # per address
    assert t.backoff_seconds("bob", "10.0.0.1") == 0.0  # per identity


def test_success_resets_and_old_failures_expire() -> None:
    clock = Clock()
    t = FailureTracker(clock=clock, window=60)
    for _ in range(6):
        t.record_failure("a", "x")
    t.record_success("a", "x")
    assert t.failures("a", "x") == 0
    for _ in range(6):
        t.record_failure("a", "x")
    clock.now += 61
    assert t.failures("a", "x") == 0 and t.backoff_seconds("a", "x") == 0.0


def test_cap_and_bounded_table() -> None:
    clock = Clock()
    t = FailureTracker(clock=clock, cap=10.0, max_entries=3)
    for _ in range(30):
        t.record_failure("a", "x")
    assert t.backoff_seconds("a", "x") == 10.0
    for name in ("b", "c", "d"):
        t.record_failure(name, "x")
    assert t.failures("a", "x") == 0  # evicted as the oldest
