"""The masking key file: key ids, rotation, and HKDF subkeys per purpose.

The file is JSON ``{"active": "k1", "keys": {"k1": "<base64 of 32 bytes>"}}``.  Rotation
adds a new id and makes it active; old ids stay so tokens made under them can still be
reversed and so audit records that name them stay meaningful.

Every masker derives its own subkey (``purpose`` such as ``"pseudonymize/email"`` or
``"ff1/credit_card"``, optionally with a tenant) by HKDF, so a leaked pseudonym table of
one type says nothing about another, and no code ever uses the master key directly.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import KeyError_

_KEY_BYTES = 32
_SALT = b"veil/mask/v1"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Keyring:
    """Master masking keys by id, one of them active.  Immutable; ``rotated`` returns a new ring."""

    __slots__ = ("_keys", "_subkeys", "active_id")

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if not keys:
            raise KeyError_("masking key file has no keys")
        for key_id, key in keys.items():
            if not _ID.match(key_id):
                raise KeyError_("masking key id must be 1-64 characters of [A-Za-z0-9_.-]")
            if len(key) != _KEY_BYTES:
                raise KeyError_(f"masking key {key_id!r} must be {_KEY_BYTES} bytes")
        if active not in keys:
            raise KeyError_(f"active masking key {active!r} is not in the key file")
        self._keys: Mapping[str, bytes] = MappingProxyType(dict(keys))
        self.active_id = active
        # Derivation is deterministic, so memoizing it is a pure speed-up, not state.
        self._subkeys: dict[tuple[str, str], bytes] = {}

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @classmethod
    def generate(cls, key_id: str = "k1") -> Keyring:
        return cls({key_id: secrets.token_bytes(_KEY_BYTES)}, key_id)

    def rotated(self, new_id: str | None = None) -> Keyring:
        """A ring with a fresh active key; the old keys stay for reversal and provenance."""
        if new_id is None:
            n = len(self._keys) + 1
            while f"k{n}" in self._keys:
                n += 1
            new_id = f"k{n}"
        if new_id in self._keys:
            raise KeyError_(f"masking key id {new_id!r} already exists")
        keys = dict(self._keys)
        keys[new_id] = secrets.token_bytes(_KEY_BYTES)
        return Keyring(keys, new_id)

    def subkey(self, purpose: str, key_id: str | None = None, *, tenant: str | None = None) -> bytes:
        """A 32-byte key for one purpose (``"pseudonymize/email"``), per key id and tenant."""
        kid = self.active_id if key_id is None else key_id
        info = purpose if tenant is None else f"{purpose}\x00tenant={tenant}"
        cached = self._subkeys.get((kid, info))
        if cached is not None:
            return cached
        master = self._keys.get(kid)
        if master is None:
            raise KeyError_(f"unknown masking key id {kid!r}")
        derived = HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=_SALT,
                       info=f"veil/{kid}/{info}".encode()).derive(master)
        self._subkeys[(kid, info)] = derived
        return derived

    # -- serialization ---------------------------------------------------------------------

    def to_json(self) -> str:
        keys = {k: base64.b64encode(v).decode("ascii") for k, v in self._keys.items()}
        return json.dumps({"active": self.active_id, "keys": keys}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            doc = json.loads(text)
            active = doc["active"]
            raw = doc["keys"]
            if not isinstance(active, str) or not isinstance(raw, dict):
                raise TypeError
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in raw.items()}
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise KeyError_("masking key file is not valid JSON of the form "
                            '{"active": ID, "keys": {ID: BASE64}}') from None
        return cls(keys, active)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the key file with mode 0600 (created so, never chmod-ed after the fact)."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError as exc:
            raise KeyError_(f"{os.fspath(path)} exists; refusing to overwrite a key") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())

    @classmethod
    def load(cls, path_or_ref: str | os.PathLike[str]) -> Keyring:
        """From ``file:PATH``, ``env:NAME`` (the JSON itself) or a plain path.

        A key file readable by group or others is refused: a masking key is as secret as
        the data it protects.
        """
        ref = os.fspath(path_or_ref)
        if ref.startswith("env:"):
            name = ref[4:]
            text = os.environ.get(name)
            if text is None:
                raise KeyError_(f"environment variable {name} (masking key) is not set")
            return cls.from_json(text)
        path = Path(ref[5:] if ref.startswith("file:") else ref)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyError_(f"{path}: masking key file must not be accessible by group or others "
                                "(chmod 600)")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyError_(f"{path}: cannot read masking key file ({exc.strerror})") from exc
        return cls.from_json(text)
