"""Reversible FF1 tokens (``veil unmask`` reverses them, policy permitting, always audited).

A value too short for FF1's minimum domain (a million values) is redacted instead: it
cannot be tokenized safely, and failing the whole statement for it helps nobody.
"""

from __future__ import annotations

from typing import ClassVar

from veil.mask.base import MaskContext, Masker
from veil.mask.builtin.redact import PLACEHOLDER
from veil.mask.formats import tokens


class TokenizeMasker(Masker):
    name: ClassVar[str] = "tokenize"

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        if not tokens.can_tokenize(data_type, value):
            return PLACEHOLDER
        return tokens.tokenize(ctx, data_type, value)
