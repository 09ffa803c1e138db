"""A local token issuer for demos and tests (``identity.dev_issuer``, ``veil token issue``).

An Ed25519 key in a PEM file signs EdDSA tokens with its own issuer name; the
provider accepts them next to the configured IdP, and the HTTP front end serves
the public half as JWKS.  Production uses a real IdP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veil.config import DevIssuerSettings, Settings, resolve_ref
from veil.errors import ConfigError, KeyError_
from veil.values import Kind


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_path(settings: DevIssuerSettings) -> Path | None:
    return Path(settings.key[5:]) if settings.key.startswith("file:") else None


def ensure_key(settings: DevIssuerSettings) -> bool:
    """Create the key file (mode 0600) if it is missing; True if one was created."""
    path = key_path(settings)
    if path is None or path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return True


def load_key(settings: DevIssuerSettings) -> Ed25519PrivateKey:
    try:
        pem = resolve_ref(settings.key, key="identity.dev_issuer.key")
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except ConfigError as exc:
        raise KeyError_(f"dev issuer key unavailable: {exc}") from None
    except (ValueError, TypeError, UnicodeEncodeError):
        raise KeyError_("dev issuer key is not an Ed25519 private key in PEM") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_("dev issuer key is not an Ed25519 private key in PEM")
    return key


def public_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = _b64url(raw)
    # RFC 7638 thumbprint as the kid: stable, derived from the key alone.
    thumb = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    kid = _b64url(hashlib.sha256(thumb.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def dev_issuer_jwks(settings: Settings | DevIssuerSettings) -> dict[str, Any]:
    """The dev issuer's public key set (``{"keys": []}`` when none is configured or the key is missing)."""
    dev = settings.identity.dev_issuer if isinstance(settings, Settings) else settings
    if dev is None:
        return {"keys": []}
    path = key_path(dev)
    if path is not None and not path.exists():
        return {"keys": []}
    return {"keys": [public_jwk(load_key(dev))]}


def issue_token(settings: DevIssuerSettings, *, identity: str, groups: Sequence[str] = (),
                kind: Kind = "human", ttl: float = 3600.0, clock: Callable[[], float],
                extra: dict[str, Any] | None = None, groups_claim: str = "groups",
                kind_claim: str = "veil_kind") -> str:
    """A signed EdDSA token for ``identity`` valid for ``ttl`` seconds."""
    key = load_key(settings)
    now = int(clock())
    claims: dict[str, Any] = {
        "iss": settings.issuer, "aud": settings.audience, "sub": identity, "iat": now, "nbf": now,
        "exp": now + int(ttl), "jti": str(uuid.uuid4()), groups_claim: list(groups), kind_claim: kind,
    }
    claims.update(extra or {})
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": public_jwk(key)["kid"]})
