"""Reversible tokens by FF1: the value's digits (or letters and digits) encrypted in place.

Digit-typed values (cards, SSNs, phones, account numbers) encrypt their digits only, so a
token still fits the column and keeps its separators; any other value encrypts its ASCII
letters and digits over a 62-symbol alphabet.  The tweak is the data type, so an SSN
token does not decrypt as a card.  Too-short values (fewer than a million possible
values) cannot be tokenized safely: ``can_tokenize`` says so, ``tokenize`` raises
``MaskingError`` (the masker redacts them instead).
"""

from __future__ import annotations

from veil.errors import MaskingError
from veil.mask.base import MaskContext
from veil.mask.ff1 import BASE62, DIGITS, FF1, MIN_DOMAIN

DIGIT_TYPES = frozenset({"credit_card", "us_ssn", "phone", "bank_account"})


def _alphabet(data_type: str | None) -> str:
    return DIGITS if (data_type or "text") in DIGIT_TYPES else BASE62


def can_tokenize(data_type: str | None, value: str) -> bool:
    """True when the value has enough symbols for FF1's minimum domain."""
    alphabet = _alphabet(data_type)
    n = sum(1 for ch in value if ch in alphabet)
    return len(alphabet) ** n >= MIN_DOMAIN


def _transform(ctx: MaskContext, data_type: str | None, value: str, *, decrypt: bool) -> str:
    kind = data_type or "text"
    alphabet = _alphabet(kind)
    positions = [i for i, ch in enumerate(value) if ch in alphabet]
    symbols = "".join(value[i] for i in positions)
    ff1 = FF1(ctx.key(f"ff1/{kind}"), alphabet)
    if len(symbols) < ff1.min_len:
        raise MaskingError(f"a {kind} value is too short to tokenize reversibly")
    tweak = kind.encode()
    out = ff1.decrypt(symbols, tweak) if decrypt else ff1.encrypt(symbols, tweak)
    chars = list(value)
    for i, ch in zip(positions, out, strict=True):
        chars[i] = ch
    return "".join(chars)


def tokenize(ctx: MaskContext, data_type: str | None, value: str) -> str:
    return _transform(ctx, data_type, value, decrypt=False)


def detokenize(ctx: MaskContext, data_type: str | None, token: str) -> str:
    return _transform(ctx, data_type, token, decrypt=True)
