"""Secrets without a known format: only where the column or key name says "secret".

Random-looking strings are everywhere (ids, hashes, nonces), so entropy alone is never
enough.  Under a name such as ``password``, ``api_key`` or ``client_secret`` a cell is a
secret if it is one token of plausible length (passwords) or a high-entropy token (keys).
"""

from __future__ import annotations

from veil.detect.base import Detector, shannon_entropy

_MIN_ENTROPY = 3.0  # bits/char: hex keys reach ~3.7-4, base64 keys ~5, words ~2.5-3


class HighEntropySecretDetector(Detector):
    name = "high_entropy_secret"
    type = "secret"
    shapes = frozenset({"password", "token", "hash"})

    def shape(self, value: str, tag: str) -> float | None:
        if any(ch.isspace() for ch in value) and tag != "token":
            return None
        if tag == "password":
            return 0.95 if 4 <= len(value) <= 256 else None
        token = value.strip().strip("\"'")
        if len(token) < 16 or " " in token:
            return None
        return 0.9 if shannon_entropy(token) >= _MIN_ENTROPY else None
