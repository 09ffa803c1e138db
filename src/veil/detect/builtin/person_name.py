"""People's names: after a title ("Mr.", "Dr.") in free text, or any name-shaped cell in a
column whose name says it holds a person's name.

Names cannot be recognized from their letters alone without a language model; the
name hint plus a shape check (1-5 words of letters, no digits) is what is reliable.
"""

from __future__ import annotations

import re
from typing import ClassVar

from veil.detect.base import Detector, Pattern

_APOSTROPHE = "\u2019"  # typographic apostrophe, as in O\u2019Brien
_WORD = re.compile(r"^[^\W\d_][^\W\d_'.\-" + _APOSTROPHE + r"]*(?:['.\-" + _APOSTROPHE + r"][^\W\d_]*)*\.?$")


class PersonNameDetector(Detector):
    name = "person_name"
    type = "person_name"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Sr|Sra)\.? "
            r"([A-Z][a-z'\-]{1,30}(?: [A-Z][a-z'\-]{1,30}){0,2})\b",
            0.75,
            "name after a title",
        ),
        Pattern(
            r"(?i:\b(?:patient|customer|client|name|signed by|contact person)[:\s]{1,3})"
            r"([A-Z][a-z'\-]{1,30} [A-Z][a-z'\-]{1,30})\b",
            0.6,
            "name after a person word",
        ),
    )
    shapes = frozenset({"name"})

    def shape(self, value: str, tag: str) -> float | None:
        words = value.replace(",", " ").split()
        if not 1 <= len(words) <= 5 or len(value) > 80:
            return None
        return 0.9 if all(_WORD.match(w) for w in words) and any(w[0].isupper() for w in words) else None
