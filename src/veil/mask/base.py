"""What a masker is, and the keyed randomness every pseudonym is built from.

A masker is a small stateless class with a permanent ``name`` (persisted in audit
records: deprecate, never rename) and one method, ``mask``, that turns one text value of
a data type into its masked text, or None for SQL NULL.  Maskers never see a key: they
ask the ``MaskContext`` for a keyed stream, which derives a per-purpose subkey, so the
same value masks the same way in every process that holds the same key file.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from veil.mask.keys import Keyring

DIGITS = "0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()
#: public webmail domains kept as-is in pseudonymized emails (they say nothing about a person)
DEFAULT_WEBMAIL: tuple[str, ...] = (
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com", "msn.com",
    "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net", "web.de",
    "mail.com", "yandex.ru", "qq.com", "163.com", "fastmail.com", "zoho.com", "hey.com",
)


class KeyedStream:
    """Deterministic bytes from HMAC-SHA-256(subkey, value), extended by counter on demand.

    ``attempt`` lets a caller re-derive a different candidate (e.g. when a pseudonym would
    share a 4-character run with its original) while staying deterministic.
    """

    __slots__ = ("_buf", "_key", "_msg", "_n", "_pos")

    def __init__(self, key: bytes, value: str, attempt: int = 0) -> None:
        self._key = key
        self._msg = value.encode("utf-8", "surrogatepass") + (b"\x00%d" % attempt if attempt else b"")
        self._buf = hmac.digest(key, self._msg, "sha256")
        self._pos = 0
        self._n = 0

    def _refill(self) -> None:
        self._n += 1
        self._buf = hmac.digest(self._key, self._msg + b"\x01%d" % self._n, "sha256")
        self._pos = 0

    def byte(self) -> int:
        if self._pos >= len(self._buf):
            self._refill()
        b = self._buf[self._pos]
        self._pos += 1
        return b

    def take(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self._pos >= len(self._buf):
                self._refill()
            chunk = self._buf[self._pos : self._pos + n - len(out)]
            self._pos += len(chunk)
            out += chunk
        return bytes(out)

    def digit(self) -> str:
        """A keyed decimal digit, unbiased (bytes >= 250 are skipped)."""
        while True:
            b = self.byte()
            if b < 250:
                return DIGITS[b % 10]

    def below(self, n: int) -> int:
        """A keyed integer in [0, n); rejection sampling keeps it unbiased."""
        if n <= 1:
            return 0
        nbytes = (n.bit_length() + 7) // 8 + 1
        limit = (256**nbytes // n) * n
        while True:
            x = int.from_bytes(self.take(nbytes), "big")
            if x < limit:
                return x % n

    def choice(self, alphabet: str) -> str:
        return alphabet[self.below(len(alphabet))]


@dataclass(frozen=True, slots=True)
class MaskContext:
    """What maskers may use: keyed streams per purpose, and engine options. No mutable state."""

    keyring: Keyring
    key_id: str
    webmail: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_WEBMAIL))
    tenant: str | None = None

    def key(self, purpose: str) -> bytes:
        return self.keyring.subkey(purpose, self.key_id, tenant=self.tenant)

    def stream(self, purpose: str, value: str, attempt: int = 0) -> KeyedStream:
        return KeyedStream(self.key(purpose), value, attempt)

    @classmethod
    def build(cls, keyring: Keyring, webmail: Iterable[str] = DEFAULT_WEBMAIL,
              tenant: str | None = None) -> MaskContext:
        return cls(keyring, keyring.active_id, frozenset(d.lower() for d in webmail), tenant)


class Masker:
    """Base: subclasses set ``name`` and implement ``mask``."""

    name: ClassVar[str] = ""

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        raise NotImplementedError


def shares_run(original: str, candidate: str, run: int = 4) -> bool:
    """True when ``candidate`` contains any ``run``-character substring of ``original`` (case-folded)."""
    o, c = original.casefold(), candidate.casefold()
    if len(o) < run or len(c) < run:
        return False
    return any(o[i : i + run] in c for i in range(len(o) - run + 1))


def keyed_like(stream: KeyedStream, template: str) -> str:
    """Replace each digit/letter of ``template`` by a keyed one of the same class; keep the rest."""
    out = []
    for ch in template:
        if "0" <= ch <= "9":
            out.append(stream.digit())
        elif "a" <= ch <= "z":
            out.append(LOWER[stream.below(26)])
        elif "A" <= ch <= "Z":
            out.append(UPPER[stream.below(26)])
        elif ch.isalpha():
            out.append(LOWER[stream.below(26)] if ch.islower() else UPPER[stream.below(26)])
        elif ch.isdigit():
            out.append(stream.digit())
        else:
            out.append(ch)
    return "".join(out)
