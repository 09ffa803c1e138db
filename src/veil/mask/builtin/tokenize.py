"""Reversible FF1 tokens (``veil unmask`` reverses them, policy permitting, always audited)."""

from __future__ import annotations

from typing import ClassVar

from veil.mask.base import MaskContext, Masker
from veil.mask.formats import tokens


class TokenizeMasker(Masker):
    name: ClassVar[str] = "tokenize"

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        return tokens.tokenize(ctx, data_type, value)
