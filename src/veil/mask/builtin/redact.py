"""A fixed placeholder; still a valid value of the type where one is cheap (an email stays an email)."""

from __future__ import annotations

from typing import ClassVar

from veil.mask.base import MaskContext, Masker

PLACEHOLDER = "[REDACTED]"


class RedactMasker(Masker):
    name: ClassVar[str] = "redact"

    placeholders: ClassVar[dict[str, str]] = {
        "email": "redacted@redacted.invalid",
        "ip_address": "0.0.0.0",
        "date_of_birth": "1900-01-01",
    }

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        return self.placeholders.get(data_type or "", PLACEHOLDER)
