"""The maskers by method name, declared in one place (never discovered by attribute name)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from veil.mask.base import Masker
from veil.mask.builtin.generalize import GeneralizeMasker
from veil.mask.builtin.hash import HashMasker
from veil.mask.builtin.none import NoneMasker
from veil.mask.builtin.null import NullMasker
from veil.mask.builtin.partial import PartialMasker
from veil.mask.builtin.pseudonymize import PseudonymizeMasker
from veil.mask.builtin.redact import RedactMasker
from veil.mask.builtin.tokenize import TokenizeMasker

_CLASSES: tuple[type[Masker], ...] = (
    PseudonymizeMasker, PartialMasker, RedactMasker, HashMasker, GeneralizeMasker, NullMasker, NoneMasker,
    TokenizeMasker,
)

#: method name (INTERFACE.md, plus ``tokenize``: reversible FF1) -> masker instance (stateless, shared)
MASKERS: Mapping[str, Masker] = MappingProxyType({cls.name: cls() for cls in _CLASSES})
METHODS: frozenset[str] = frozenset(MASKERS)
