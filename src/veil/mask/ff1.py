"""FF1 format-preserving encryption (NIST SP 800-38G, rev. 1) on ``cryptography``'s AES.

Used for reversible tokens: a digit string encrypts to a digit string of the same
length, so a tokenized card number still fits its column, and ``veil unmask`` can give
the original back to an identity whose policy allows it.  FF3/FF3-1 are not offered
(withdrawn in the 2025 draft).  The domain must have at least 1,000,000 values
(radix ** length), as the standard requires.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from veil.errors import MaskingError

DIGITS = "0123456789"
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MIN_DOMAIN = 1_000_000
_ROUNDS = 10
_ZERO_IV = bytes(16)


class FF1:
    """One key and alphabet; ``encrypt``/``decrypt`` strings over that alphabet with a tweak."""

    def __init__(self, key: bytes, alphabet: str = DIGITS, *, max_len: int = 4096) -> None:
        if len(key) not in (16, 24, 32):
            raise MaskingError("FF1 needs an AES-128, -192 or -256 key")
        if not 2 <= len(alphabet) <= 2**16 or len(set(alphabet)) != len(alphabet):
            raise MaskingError("FF1 alphabet must have 2..65536 distinct symbols")
        self._aes = algorithms.AES(key)
        self.alphabet = alphabet
        self.radix = len(alphabet)
        self._index = {ch: i for i, ch in enumerate(alphabet)}
        self.max_len = max_len
        self.min_len = 2
        while self.radix**self.min_len < MIN_DOMAIN:
            self.min_len += 1

    def _prf(self, data: bytes) -> bytes:
        enc = Cipher(self._aes, modes.CBC(_ZERO_IV)).encryptor()
        return (enc.update(data) + enc.finalize())[-16:]

    def _ciph(self, block: bytes) -> bytes:
        enc = Cipher(self._aes, modes.ECB()).encryptor()
        return enc.update(block) + enc.finalize()

    def _num(self, digits: list[int]) -> int:
        n = 0
        for d in digits:
            n = n * self.radix + d
        return n

    def _str(self, x: int, m: int) -> list[int]:
        out = [0] * m
        for i in range(m - 1, -1, -1):
            x, out[i] = divmod(x, self.radix)
        return out

    def _check(self, text: str) -> list[int]:
        if not self.min_len <= len(text) <= self.max_len:
            raise MaskingError(f"FF1 input must be {self.min_len}..{self.max_len} symbols long")
        try:
            return [self._index[ch] for ch in text]
        except KeyError:
            raise MaskingError("FF1 input has a symbol outside its alphabet") from None

    def _round_y(self, tweak: bytes, p: bytes, b: int, d: int, i: int, half: list[int]) -> int:
        pad = (-len(tweak) - b - 1) % 16
        q = tweak + bytes(pad) + bytes([i]) + self._num(half).to_bytes(b, "big")
        r = self._prf(p + q)
        s = r
        j = 1
        while len(s) < d:
            s += self._ciph(bytes(a ^ c for a, c in zip(r, j.to_bytes(16, "big"), strict=True)))
            j += 1
        return int.from_bytes(s[:d], "big")

    def _params(self, n: int, tweak: bytes) -> tuple[int, int, int, int, bytes]:
        u = n // 2
        v = n - u
        b = ((self.radix**v - 1).bit_length() + 7) // 8
        d = 4 * ((b + 3) // 4) + 4
        p = bytes([1, 2, 1]) + self.radix.to_bytes(3, "big") + bytes([10, u % 256]) + \
            n.to_bytes(4, "big") + len(tweak).to_bytes(4, "big")
        return u, v, b, d, p

    def encrypt(self, text: str, tweak: bytes = b"") -> str:
        x = self._check(text)
        u, v, b, d, p = self._params(len(x), tweak)
        a, bb = x[:u], x[u:]
        for i in range(_ROUNDS):
            m = u if i % 2 == 0 else v
            y = self._round_y(tweak, p, b, d, i, bb)
            c = (self._num(a) + y) % self.radix**m
            a, bb = bb, self._str(c, m)
        return "".join(self.alphabet[k] for k in a + bb)

    def decrypt(self, text: str, tweak: bytes = b"") -> str:
        x = self._check(text)
        u, v, b, d, p = self._params(len(x), tweak)
        a, bb = x[:u], x[u:]
        for i in range(_ROUNDS - 1, -1, -1):
            m = u if i % 2 == 0 else v
            y = self._round_y(tweak, p, b, d, i, a)
            c = (self._num(bb) - y) % self.radix**m
            bb, a = a, self._str(c, m)
        return "".join(self.alphabet[k] for k in a + bb)
