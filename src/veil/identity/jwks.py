"""A key set (JWKS) per issuer, cached, refreshed on an unknown ``kid`` at most once a minute.

Identity does no network I/O itself: the key set comes from a ``fetch`` callable
injected from above (the app passes an httpx fetch for ``https:``); the default
reads ``file:`` refs only.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from veil.config import resolve_ref
from veil.errors import VeilError

log = logging.getLogger("veil.identity")

Fetch = Callable[[str], bytes]
MIN_REFRESH_SECONDS = 60.0


def file_fetch(ref: str) -> bytes:
    """The default fetch: ``file:`` refs only; anything else needs an injected fetch."""
    if not ref.startswith("file:"):
        raise VeilError(f"no fetcher for {ref.split(':', 1)[0]}: refs (the app injects one)")
    return resolve_ref(ref, key="identity.jwt.jwks").encode("utf-8")


def parse_jwks(data: bytes | Mapping[str, Any]) -> dict[str | None, dict[str, Any]]:
    """``{"keys": [...]}`` -> kid -> JWK; keys for encryption (``use: enc``) are dropped."""
    doc = json.loads(data) if isinstance(data, bytes) else data
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWKS document")
    out: dict[str | None, dict[str, Any]] = {}
    for jwk in doc["keys"]:
        if isinstance(jwk, dict) and jwk.get("use", "sig") == "sig":
            kid = jwk.get("kid")
            out[kid if isinstance(kid, str) else None] = jwk
    return out


class KeySetCache:
    """Keys of one issuer. ``load`` returns the raw JWKS (bytes or a dict)."""

    def __init__(self, load: Callable[[], bytes | Mapping[str, Any]], *, clock: Callable[[], float],
                 min_refresh: float = MIN_REFRESH_SECONDS) -> None:
        self._load = load
        self._clock = clock
        self._min_refresh = min_refresh
        self._keys: dict[str | None, dict[str, Any]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str | None) -> dict[str, Any] | None:
        """The JWK for ``kid``; without a kid, the only key if there is exactly one."""
        with self._lock:
            found = self._lookup(kid)
            if found is None and self._may_refresh():
                self._refresh()
                found = self._lookup(kid)
            return found

    def _lookup(self, kid: str | None) -> dict[str, Any] | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _may_refresh(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._min_refresh

    def _refresh(self) -> None:
        self._loaded_at = self._clock()
        try:
            self._keys = parse_jwks(self._load())
        except (VeilError, OSError, ValueError) as exc:
            # Keep the keys we had: an IdP hiccup must not log everybody out.
            log.warning("could not refresh the JWKS: %s", exc)
