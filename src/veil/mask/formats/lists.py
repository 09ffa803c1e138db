"""Name and street lists for keyed pseudonyms.

Taken once from all of Faker's person locales (Latin-script names, NFC, de-duplicated,
sorted) and shipped as files, so pseudonyms do not change when Faker's lists change, and
no Faker random state is ever touched.  About 20,900 first x 18,200 last names keeps
collisions over a million distinct names near 0.1% (see bench/RESULTS.md).  Email local
parts use the ASCII subset, so a pseudonymous address stays plain ASCII.
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


@functools.cache
def ascii_first_names() -> tuple[str, ...]:
    return tuple(n for n in first_names() if n.isascii())


@functools.cache
def ascii_last_names() -> tuple[str, ...]:
    return tuple(n for n in last_names() if n.isascii())
