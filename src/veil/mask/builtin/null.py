"""SQL NULL (in text output: the empty string)."""

from __future__ import annotations

from typing import ClassVar

from veil.mask.base import MaskContext, Masker


class NullMasker(Masker):
    name: ClassVar[str] = "null"

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        return None
