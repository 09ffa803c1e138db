"""Shared helpers for detector tests: the real default scanner, compiled once per session."""

from __future__ import annotations

import pytest

from veil.detect import Scanner, default_scanner


@pytest.fixture(scope="session")
def scanner() -> Scanner:
    return default_scanner()


@pytest.fixture(scope="session")
def found(scanner: Scanner):  # type: ignore[no-untyped-def]
    """``found(text, column=None)`` -> [(type, covered text)], for short assertions."""

    def _found(text: str, column: str | None = None) -> list[tuple[str, str]]:
        return [(f.type, text[f.start : f.end]) for f in scanner.scan(text, column=column)]

    return _found
