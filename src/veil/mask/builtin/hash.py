"""A keyed hash (HMAC-SHA-256, 128 bits as hex): joinable, not reversible, not format-preserving.

Keyed per type, never a bare hash: unkeyed hashes of emails or SSNs are reversed by
enumeration in minutes.
"""

from __future__ import annotations

from typing import ClassVar

from veil.mask.base import MaskContext, Masker


class HashMasker(Masker):
    name: ClassVar[str] = "hash"

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        prf = ctx.prf(f"hash/{data_type or 'text'}")
        return prf.digest(value.encode("utf-8", "surrogatepass"))[:16].hex()
