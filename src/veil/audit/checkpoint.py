"""Signed checkpoints in the C2SP formats (tlog-checkpoint inside a signed note).

A checkpoint body is::

    <origin>\\n<tree size>\\n<base64 root hash>\\n[time <UTC, microseconds>\\n]

and the note appends a blank line and one ``— <key name> <base64(key hash || sig)>``
line per signature.  Ed25519 key hashes are the first 4 bytes of
SHA-256(name || 0x0A || 0x01 || public key).  Using the published formats means
any C2SP-aware witness or tool can check veil's checkpoints without veil's code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from veil.errors import AuditIntegrityError, KeyError_

SIG_PREFIX = "\u2014 "  # em dash + space
ALG_ED25519 = 0x01
DEFAULT_KEY_NAME = "veil-audit"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The signed statement "the log ``origin`` had ``size`` leaves with root ``root``"."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)

    def extension(self, name: str) -> str | None:
        for ext in self.extensions:
            if ext.startswith(name + " "):
                return ext[len(name) + 1:]
        return None

    @property
    def time(self) -> str | None:
        return self.extension("time")


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A parsed note: its checkpoint, the exact signed text, and (key name, key hash, signature)s."""

    checkpoint: Checkpoint
    text: str
    signatures: tuple[tuple[str, bytes, bytes], ...] = field(default=())


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public).digest()[:4]


class Verifier:
    """An Ed25519 note verifier: a key name and a public key."""

    def __init__(self, public: Ed25519PublicKey, name: str = DEFAULT_KEY_NAME) -> None:
        self.name = name
        self.public = public
        self.raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.hash = key_hash(name, self.raw)

    @classmethod
    def from_pem(cls, data: bytes, name: str = DEFAULT_KEY_NAME) -> Verifier:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise KeyError_("audit public key is not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise KeyError_("audit public key is not an Ed25519 key")
        return cls(key, name)

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key hash>+<base64(0x01 || public key)>`` (the note verifier key format)."""
        try:
            name, hash_hex, blob = vkey.strip().split("+", 2)  # base64 may hold "+" too
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise KeyError_("malformed verifier key") from exc
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise KeyError_("verifier key is not an Ed25519 key")
        verifier = cls(Ed25519PublicKey.from_public_bytes(raw[1:]), name)
        if verifier.hash.hex() != hash_hex.lower():
            raise KeyError_("verifier key hash does not match its key")
        return verifier

    def vkey(self) -> str:
        return f"{self.name}+{self.hash.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + self.raw).decode()}"

    def verify(self, note: SignedNote) -> bool:
        """True when one of the note's signatures is this key's and is valid."""
        for name, khash, sig in note.signatures:
            if name == self.name and khash == self.hash:
                try:
                    self.public.verify(sig, note.text.encode())
                    return True
                except InvalidSignature:
                    return False
        return False


class Signer:
    """Signs checkpoints with the ``keys.audit_signing`` Ed25519 key (PEM PKCS8)."""

    def __init__(self, private: Ed25519PrivateKey, name: str = DEFAULT_KEY_NAME) -> None:
        self.private = private
        self.verifier = Verifier(private.public_key(), name)

    @classmethod
    def from_pem(cls, data: bytes, name: str = DEFAULT_KEY_NAME) -> Signer:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyError_("audit signing key is not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_("audit signing key is not an Ed25519 key")
        return cls(key, name)

    @classmethod
    def load(cls, path: str | Path) -> Signer:
        try:
            return cls.from_pem(Path(path).read_bytes())
        except OSError as exc:
            raise KeyError_(f"cannot read the audit signing key {path}: {exc.strerror}") from exc

    def sign(self, checkpoint: Checkpoint) -> str:
        text = checkpoint.body()
        sig = self.private.sign(text.encode())
        line = f"{SIG_PREFIX}{self.verifier.name} {base64.b64encode(self.verifier.hash + sig).decode()}\n"
        return text + "\n" + line


def parse_note(note: str) -> SignedNote:
    """Parse a signed checkpoint note; ``AuditIntegrityError`` if it is malformed."""
    text, sep, sigs = note.partition("\n\n")
    if not sep:
        raise AuditIntegrityError("checkpoint note has no signature block")
    text += "\n"
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise AuditIntegrityError("checkpoint note body is too short")
    origin, size_s, root_b64, *exts = lines
    try:
        size = int(size_s)
        root = base64.b64decode(root_b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise AuditIntegrityError("checkpoint note has a malformed size or root") from exc
    if size < 0 or len(root) != 32 or str(size) != size_s or not origin:
        raise AuditIntegrityError("checkpoint note has a malformed size or root")
    signatures = []
    for line in sigs.split("\n"):
        if not line:
            continue
        if not line.startswith(SIG_PREFIX):
            raise AuditIntegrityError("checkpoint note has a malformed signature line")
        try:
            name, blob = line[len(SIG_PREFIX):].split(" ")
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise AuditIntegrityError("checkpoint note has a malformed signature line") from exc
        if len(raw) < 5:
            raise AuditIntegrityError("checkpoint note signature is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return SignedNote(Checkpoint(origin, size, root, tuple(exts)), text, tuple(signatures))


def split_notes(text: str) -> Iterator[str]:
    """Split concatenated notes (an anchor file: notes separated by one empty line)."""
    current: list[str] = []
    in_sigs = False
    for line in text.split("\n"):
        if not line:
            if in_sigs and current:
                yield "\n".join(current) + "\n"
                current, in_sigs = [], False
            elif current:
                current.append("")
                in_sigs = True
            continue
        current.append(line)
    if current and in_sigs:
        yield "\n".join(current) + "\n"


def read_notes(paths: Sequence[Path]) -> list[str]:
    """All notes in anchor files (or the ``*.note`` files of an anchor directory)."""
    notes: list[str] = []
    for path in paths:
        files = sorted(path.glob("*")) if path.is_dir() else [path]
        for f in files:
            notes.extend(split_notes(f.read_text(encoding="utf-8")))
    return notes
