"""The masking engine: one object per key set that masks typed values, free text and wire values.

It is pure (no I/O) and deterministic for a key: two processes with the same key file
give the same pseudonyms, which is what keeps joins, group-bys and counts working on
masked data.  A bounded LRU cache of (type, method, value) -> masked value per engine
(so per key id) pays off on repeated reads; it holds masked output keyed by input, so it
lives and dies with the engine and is never shared or logged.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from veil.detect import TYPES
from veil.errors import ConfigError, MaskingError, VeilError
from veil.mask.base import DEFAULT_WEBMAIL, MaskContext
from veil.mask.keys import Keyring
from veil.mask.pgtypes import mask_pg
from veil.mask.registry import MASKERS, METHODS
from veil.values import Finding

if TYPE_CHECKING:
    from veil.config import Settings
    from veil.detect import Scanner

#: longer values bypass the caches, so their memory stays bounded by entries x this size
CACHE_MAX_VALUE = 256
#: method used for a type when a mask map has no ``default``: fail closed
FALLBACK_METHOD = "pseudonymize"


class MaskEngine:
    """Masks values with the maskers of ``veil.mask.registry`` under one keyring's active key."""

    def __init__(self, keyring: Keyring, *, webmail_domains: Iterable[str] = DEFAULT_WEBMAIL,
                 cache_size: int = 65536, scanner: Scanner | None = None, tenant: str | None = None) -> None:
        self.keyring = keyring
        self.key_id = keyring.active_id
        self._ctx = MaskContext.build(keyring, webmail_domains, tenant)
        self._scanner = scanner
        self.cache_size = max(0, cache_size)  # entries per LRU; planners size their own caches from it
        self._functions: dict[tuple[str, str | None], Callable[[MaskContext, str], str | None]] = {}
        self._cached = functools.lru_cache(maxsize=max(0, cache_size))(self._mask_uncached)
        self._pg_cached = functools.lru_cache(maxsize=max(0, cache_size))(self._mask_pg_uncached)
        self._scan_cached = functools.lru_cache(maxsize=max(0, cache_size))(self._scan_text_uncached)

    @classmethod
    def from_settings(cls, settings: Settings, *, scanner: Scanner | None = None) -> MaskEngine:
        """The engine for a config: its masking key (``keys.masking``), webmail list and cache size."""
        if not settings.keys.masking:
            raise ConfigError("keys.masking is required to mask (run `veil keys generate`)",
                              key="keys.masking")
        return cls(Keyring.load(settings.keys.masking), webmail_domains=settings.masking.webmail_domains,
                   cache_size=settings.masking.cache_size, scanner=scanner)

    # -- typed values -----------------------------------------------------------------------

    def _function(self, data_type: str | None, method: str) -> Callable[[MaskContext, str], str | None]:
        fn = self._functions.get((method, data_type))
        if fn is None:
            masker = MASKERS.get(method)
            if masker is None:
                raise MaskingError(f"unknown masking method {method!r}")
            fn = masker.for_type(data_type)
            if len(self._functions) < 4096:
                self._functions[(method, data_type)] = fn
        return fn

    def _mask_uncached(self, data_type: str | None, method: str, value: str) -> str | None:
        fn = self._function(data_type, method)
        try:
            return fn(self._ctx, value)
        except MaskingError:
            raise
        except Exception as exc:  # a masker bug must fail the statement, never leak the value
            raise MaskingError(f"masking a {data_type or 'text'} value with {method} failed "
                               f"({type(exc).__name__})") from None

    def mask_value(self, data_type: str | None, method: str, value: str) -> str | None:
        """One whole value of ``data_type`` masked by ``method``; None means SQL NULL."""
        if method == "none":
            return value
        if len(value) > CACHE_MAX_VALUE:
            return self._mask_uncached(data_type, method, value)
        return self._cached(data_type, method, value)

    def mask_text(self, data_type: str, method: str, value: str) -> str:
        """Like ``mask_value`` for text sinks (CSV, spans): NULL becomes the empty string."""
        masked = self.mask_value(data_type, method, value)
        return "" if masked is None else masked

    def unmask_text(self, data_type: str | None, token: str, *, key_id: str | None = None) -> str:
        """The original of a ``tokenize`` token (FF1 decryption) under ``key_id`` (default: active).

        Callers (``veil unmask``) must check the policy and audit first; the engine does not.
        """
        from veil.mask.formats.tokens import detokenize

        ctx = self._ctx if key_id is None else dataclasses.replace(self._ctx, key_id=key_id, memo={})
        try:
            return detokenize(ctx, data_type, token)
        except MaskingError:
            raise
        except VeilError as exc:
            raise MaskingError(str(exc)) from None

    @property
    def context(self) -> MaskContext:
        """The keyed context maskers use (for type-specific encoders such as ``pgtypes``)."""
        return self._ctx

    def cache_info(self) -> functools._CacheInfo:
        return self._cached.cache_info()

    # -- methods ----------------------------------------------------------------------------

    def resolve_method(self, data_type: str, mask_map: Mapping[str, str]) -> str:
        """The method for a type: the type's own entry > its category's > ``default``.

        Secrets are redacted unless the map names ``secret`` itself (a category- or
        default-wide ``pseudonymize`` must not turn an API key into a look-alike key).  A
        date of birth reached through a category or default ``pseudonymize`` is
        generalized to the year: a keyed day shift keeps too much of it.
        """
        method = mask_map.get(data_type)
        if method is None:
            if data_type == "secret":
                return "redact"
            category = TYPES.get(data_type)
            method = mask_map.get(category) if category else None
            if method is None:
                method = mask_map.get("default", FALLBACK_METHOD)
            if data_type == "date_of_birth" and method == "pseudonymize":
                method = "generalize"
        if method not in METHODS:
            raise MaskingError(f"unknown masking method {method!r} for type {data_type!r}")
        return method

    def methods_for(self, mask_map: Mapping[str, str], types: Iterable[str]) -> dict[str, str]:
        return {t: self.resolve_method(t, mask_map) for t in types}

    # -- free text --------------------------------------------------------------------------

    def mask_spans(self, text: str, findings: Sequence[Finding], methods: Mapping[str, str]) -> str:
        """Replace each finding's span by its masked value; overlaps keep the earlier, longer one.

        ``methods`` maps a type to its method (see ``resolve_method``); a type missing from
        it is resolved against ``methods`` as a mask map, so ``{"default": ...}`` works too.
        The same value masks the same way in every text (the cache and the key see only the
        span), so one email in two notes gets one pseudonym.
        """
        if not findings:
            return text
        ordered = sorted(findings, key=lambda f: (f.start, -(f.end - f.start)))
        out: list[str] = []
        pos = 0
        for f in ordered:
            if f.start < pos or f.end <= f.start or f.end > len(text):
                continue
            method = methods.get(f.type) or self.resolve_method(f.type, methods)
            out.append(text[pos : f.start])
            out.append(self.mask_text(f.type, method, text[f.start : f.end]))
            pos = f.end
        out.append(text[pos:])
        return "".join(out)

    @property
    def scanner(self) -> Scanner:
        if self._scanner is None:
            from veil.detect import default_scanner

            self._scanner = default_scanner()
        return self._scanner

    def scan_text_cell(self, raw: bytes, mask_items: tuple[tuple[str, str], ...],
                       column: str | None = None) -> bytes:
        """A UTF-8 free-text cell scanned and span-masked; short cells go through an LRU (repeated
        values such as statuses or categories then cost one lookup, clean or not)."""
        if len(raw) > CACHE_MAX_VALUE:
            return self._scan_text_uncached(raw, mask_items, column)
        return self._scan_cached(raw, mask_items, column)

    def _scan_text_uncached(self, raw: bytes, mask_items: tuple[tuple[str, str], ...],
                            column: str | None) -> bytes:
        text = raw.decode("utf-8", "replace")
        masked = self.scan_and_mask(text, dict(mask_items), column=column)  # prefilters once
        return raw if masked is text else masked.encode("utf-8")

    def scan_and_mask(self, text: str, mask_map: Mapping[str, str], *, column: str | None = None) -> str:
        """Detect and span-mask free text (notes, error messages, JSON strings)."""
        scanner = self.scanner
        if not scanner.has_candidates(text) and column is None:
            return text
        findings = scanner.scan(text, column=column)
        if not findings:
            return text
        return self.mask_spans(text, findings, mask_map)

    # -- PostgreSQL wire values -------------------------------------------------------------

    def mask_pg(self, data_type: str | None, method: str, type_oid: int, fmt: int, raw: bytes, *,
                mask_map: Mapping[str, str] | None = None) -> bytes | None:
        """A masked value valid for the PostgreSQL type ``type_oid`` in format ``fmt`` (0 text, 1 binary).

        ``data_type`` None means free text: scan and span-mask (strings inside json/arrays
        too), with ``mask_map`` giving the methods of what is found (``method`` for all when
        absent).  Returns None for SQL NULL.  Raises ``MaskingError`` when no valid masked
        value can be produced, so the caller fails the statement closed.
        """
        if method == "none":
            return raw
        return mask_pg(self, data_type, method, type_oid, fmt, raw,
                       mask_map if mask_map is not None else {"default": method})

    def mask_pg_cached(self, data_type: str | None, method: str, type_oid: int, fmt: int, raw: bytes,
                       mask_items: tuple[tuple[str, str], ...]) -> bytes | None:
        """``mask_pg`` through the engine's LRU of wire values (``mask_items``: the mask map as sorted
        items), so a repeated value costs one lookup on the row path."""
        if len(raw) > CACHE_MAX_VALUE:
            return self._mask_pg_uncached(data_type, method, type_oid, fmt, raw, mask_items)
        return self._pg_cached(data_type, method, type_oid, fmt, raw, mask_items)

    def _mask_pg_uncached(self, data_type: str | None, method: str, type_oid: int, fmt: int, raw: bytes,
                          mask_items: tuple[tuple[str, str], ...]) -> bytes | None:
        return self.mask_pg(data_type, method, type_oid, fmt, raw, mask_map=dict(mask_items))
