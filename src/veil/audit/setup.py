"""From ``Settings`` to a running writer, a store to read, and the keys to check it.

Kept apart from ``writer`` so the CLI's read-only commands can open a store and
load verifier keys without ever constructing a writer.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from veil.audit.checkpoint import Signer, Verifier
from veil.audit.sinks import Sink, open_sink
from veil.audit.writer import LINGER, AuditWriter
from veil.config import Settings, resolve_ref
from veil.errors import ConfigError, KeyError_


def config_dir(settings: Settings) -> Path | None:
    return settings.source.parent if settings.source is not None else None


def _ref_path(ref: str, settings: Settings) -> Path | None:
    if not ref.startswith("file:"):
        return None
    path = Path(ref[5:])
    base = config_dir(settings)
    return base / path if not path.is_absolute() and base is not None else path


def load_signer(settings: Settings) -> Signer:
    ref = settings.keys.audit_signing
    if not ref:
        raise ConfigError("an audit signing key is required (veil keys generate writes audit.key)",
                          key="keys.audit_signing")
    path = _ref_path(ref, settings)
    if path is not None:
        return Signer.load(path)
    return Signer.from_pem(resolve_ref(ref, key="keys.audit_signing").encode())


def load_verifiers(settings: Settings | None, public_key: Path | None = None) -> list[Verifier]:
    """The keys whose checkpoint signatures count: ``--key``, else ``audit.pub`` beside the signing key,
    else the signing key's own public half."""
    if public_key is not None:
        return [_verifier_from_file(public_key)]
    if settings is None or not settings.keys.audit_signing:
        raise ConfigError("no audit public key: pass --key audit.pub or -c veil.yaml",
                          key="keys.audit_signing")
    path = _ref_path(settings.keys.audit_signing, settings)
    if path is not None and path.with_name("audit.pub").exists():
        return [_verifier_from_file(path.with_name("audit.pub"))]
    return [load_signer(settings).verifier]


def _verifier_from_file(path: Path) -> Verifier:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyError_(f"cannot read the audit public key {path}: {exc.strerror}") from exc
    if data.lstrip().startswith(b"-----"):
        return Verifier.from_pem(data)
    return Verifier.from_vkey(data.decode())


def open_store(settings: Settings, *, readonly: bool = False) -> Sink:
    return open_sink(settings.audit.store, base_dir=config_dir(settings), readonly=readonly)


def anchor_path(settings: Settings) -> Path | None:
    ref = settings.audit.anchor
    if not ref:
        return None
    return _ref_path(ref if ref.startswith("file:") else "file:" + ref, settings)


def open_writer(settings: Settings, *, node_id: str | None = None, command: str | None = None) -> AuditWriter:
    """A started writer (``AuditStoreUnavailable`` if the store cannot be opened).

    The server (``command`` None) writes the node's own log and waits for its lease if a
    previous run left one; a one-shot ``command`` (unmask, audit reads) writes a log of its
    own, ``<node>~<command>-<id>``, so it never contends with a running server.
    """
    audit = settings.audit
    if command is not None:
        node_id = f"{node_id or audit.node_id}~{command}-{uuid.uuid4().hex[:8]}"
    sink = open_store(settings)
    if audit.on_store_failure == "spool":
        from veil.audit.sinks.spool import SpoolingSink

        node = node_id or audit.node_id
        spool_dir = Path(audit.spool_dir) if audit.spool_dir else Path(f"./veil-audit-spool-{node}")
        sink = SpoolingSink(sink, spool_dir)
    writer = AuditWriter(sink, load_signer(settings), node_id=node_id or audit.node_id,
                         checkpoint_interval=audit.checkpoint_interval,
                         checkpoint_every=audit.checkpoint_every, anchor=anchor_path(settings),
                         # results wait for the store when confirming: no batching delay on top
                         linger=0.0 if audit.confirm else LINGER)
    return writer.start(lease_wait=0.0 if command is not None else writer.lease_ttl + 1)


def derive_key(signer: Signer, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` derived from the audit signing key (keyed hashes in events)."""
    raw = signer.private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                       serialization.NoEncryption())
    return hmac.new(raw, b"veil audit v1 " + purpose.encode(), hashlib.sha256).digest()
