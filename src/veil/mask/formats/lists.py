"""Name and street lists for keyed pseudonyms.

Taken once from Faker's locale data (ASCII-only, de-duplicated, sorted) and shipped as
files, so pseudonyms do not change when Faker's lists change, and no Faker random state
is ever touched.  About 8,400 first x 11,200 last names keeps collisions over a million
distinct names well under one percent (see bench/RESULTS.md).
"""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def load(name: str) -> tuple[str, ...]:
    """One list from ``veil/mask/data/<name>.txt`` (read-only once loaded)."""
    text = resources.files("veil.mask").joinpath("data", f"{name}.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def first_names() -> tuple[str, ...]:
    return load("first_names")


def last_names() -> tuple[str, ...]:
    return load("last_names")


def street_suffixes() -> tuple[str, ...]:
    return load("street_suffixes")
