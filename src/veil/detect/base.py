"""What a detector is: a small class of declarations, in the manner of Presidio recognizers.

A detector declares RE2 patterns (found in one pass by the scanner's multi-pattern
prefilter), context words that make a hit more likely, and two hooks:

* ``validate`` runs only on a pattern hit and turns it into a score (checksums,
  provider prefixes, range checks) or rejects it;
* ``shape`` runs only when a column or JSON key name hints at the detector's type and
  checks that a whole cell *looks like* that type (names, addresses, passwords...).

Detectors hold no state after construction, so one instance serves every thread.
Their ``name`` is persisted in audit records: deprecate, never rename.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Pattern:
    """One RE2 pattern. When it has a capturing group, group 1 is the reported span.

    ``label`` is a short, value-free explanation kept in ``Finding.why``.
    """

    regex: str
    score: float
    label: str = ""


class Detector:
    """Base class; subclasses set the class attributes and override the hooks they need."""

    name: ClassVar[str] = ""
    type: ClassVar[str] = ""
    patterns: ClassVar[tuple[Pattern, ...]] = ()
    #: lower-case words that, just before a hit, raise its score (e.g. "ssn", "iban")
    context: ClassVar[tuple[str, ...]] = ()
    #: lower-case words that, right before a hit, show it is something else ("version 1.2.3.4")
    negative_context: ClassVar[tuple[str, ...]] = ()
    #: a column name that says "not personal" (id, hash, count...) suppresses a weak detector's hits
    weak: ClassVar[bool] = False
    #: name-hint tags (see veil.detect.hints) this detector's ``shape`` understands
    shapes: ClassVar[frozenset[str]] = frozenset()

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        """Score for a pattern hit, or None to reject it. Default: the pattern's score.

        Never more than ``pattern.score``: the scanner relies on it to skip hits that
        could not win against a finding that already contains them.
        """
        return pattern.score

    def shape(self, value: str, tag: str) -> float | None:
        """Score for a whole cell whose column name hinted ``tag``, or None if it does not fit."""
        return None


def digits_of(text: str) -> str:
    """The ASCII digits of ``text`` (separators dropped) for checksum libraries."""
    return "".join(ch for ch in text if "0" <= ch <= "9")


def shannon_entropy(text: str) -> float:
    """Bits per character; random tokens score high, words and repeated characters low."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())
