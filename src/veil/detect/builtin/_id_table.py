"""Shared machinery for identifier detectors driven by a table of national formats.

Each row names a format (its label is also the reported reason), an RE2 pattern, a
base score and the python-stdnum module whose ``is_valid`` checks it.  Bare digit runs
get low scores on purpose: a random 9 to 12 digit number passes a mod-10/11 checksum
often enough that only a column name or a context word should make it an identifier.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from veil.detect.base import Detector, Pattern

_EDGE_L = r"(?:^|[^\w\-./])("
_EDGE_R = r")(?:$|[^\w\-/]|\.(?:$|\s))"


@dataclass(frozen=True, slots=True)
class IdFormat:
    label: str  # e.g. "ES DNI"; the country code comes first
    regex: str  # the identifier itself, without edges
    score: float
    module: str  # python-stdnum module, e.g. "stdnum.es.dni"; "" = the detector's own check


def table_patterns(table: tuple[IdFormat, ...]) -> tuple[Pattern, ...]:
    """Patterns for a table, each wrapped in edges so ids inside longer tokens do not match."""
    return tuple(Pattern(_EDGE_L + row.regex + _EDGE_R, row.score, row.label) for row in table)


class IdTableDetector(Detector):
    """A detector whose patterns come from ``table`` and whose checks come from python-stdnum."""

    table: ClassVar[tuple[IdFormat, ...]] = ()

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[str], bool]] = {}
        for row in self.table:
            if row.module:
                self._checks[row.label] = importlib.import_module(row.module).is_valid
            else:
                self._checks[row.label] = self.own_check

    def own_check(self, candidate: str) -> bool:
        """For formats python-stdnum does not know; subclasses override."""
        return False

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        check = self._checks.get(pattern.label)
        try:
            ok = check is not None and check(candidate)
        except Exception:  # stdnum raises on odd input in a few modules; odd input is not an id
            ok = False
        return pattern.score if ok else None

    def shape(self, value: str, tag: str) -> float | None:
        compact = value.strip()
        for row in self.table:
            check = self._checks[row.label]
            try:
                if check(compact):
                    return 0.95
            except Exception:
                continue
        return None
