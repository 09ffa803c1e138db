"""``veil keys generate``: a masking key, the audit signing pair and the dev issuer key.

Private files are created with mode 0600 (never widened and narrowed afterwards), and
nothing is written when any target exists: a lost masking key means pseudonyms change,
an overwritten audit key means old checkpoints can no longer be checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veil.errors import KeyError_
from veil.mask.keys import Keyring

MASKING = "masking.key"
AUDIT_PRIVATE = "audit.key"
AUDIT_PUBLIC = "audit.pub"
DEV_ISSUER = "dev-issuer.ed25519"


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def generate_keys(directory: Path) -> dict[str, Path]:
    """Write the four key files into ``directory``; refuse (KeyError_) if any exists."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new key directory is private too
    paths = {name: directory / name for name in (MASKING, AUDIT_PRIVATE, AUDIT_PUBLIC, DEV_ISSUER)}
    existing = [p.name for p in paths.values() if p.exists()]
    if existing:
        raise KeyError_(f"refusing to overwrite existing key file(s) in {directory}: {', '.join(existing)}")
    Keyring.generate().save(paths[MASKING])
    audit = Ed25519PrivateKey.generate()
    _write_new(paths[AUDIT_PRIVATE], _private_pem(audit), 0o600)
    _write_new(paths[AUDIT_PUBLIC], audit.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    _write_new(paths[DEV_ISSUER], _private_pem(Ed25519PrivateKey.generate()), 0o600)
    return paths


@click.group()
def keys() -> None:
    """Generate masking and audit signing keys."""


@keys.command("generate")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for the key files (created if missing).")
def generate(directory: Path) -> None:
    """Write masking.key, audit.key + audit.pub and dev-issuer.ed25519 (private files mode 0600).

    \b
    Example:
      veil keys generate --dir ./keys
    Refuses to overwrite existing keys (exit 1).
    """
    paths = generate_keys(directory)
    for name, path in paths.items():
        click.echo(f"wrote {path}" + ("" if name == AUDIT_PUBLIC else " (mode 0600)"))
