"""No masking: the value as it is (break-glass policies, columns tagged ``none``)."""

from __future__ import annotations

from typing import ClassVar

from veil.mask.base import MaskContext, Masker


class NoneMasker(Masker):
    name: ClassVar[str] = "none"

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        return value
