"""PostgreSQL's SCRAM-SHA-256 verifier format, parsed once for config validation and identity.

``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64 parts), as
``pg_authid.rolpassword`` stores it, so a verifier can be copied from PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii

SCRAM_PREFIX = "SCRAM-SHA-256$"


def parse_scram_verifier(verifier: str) -> tuple[int, bytes, bytes, bytes]:
    """``(iterations, salt, stored_key, server_key)``; ValueError (without the value) if malformed."""
    try:
        if not verifier.startswith(SCRAM_PREFIX):
            raise ValueError
        head, keys = verifier[len(SCRAM_PREFIX):].split("$", 1)
        iterations_text, salt_b64 = head.split(":", 1)
        stored_b64, server_b64 = keys.split(":", 1)
        parts = (salt_b64, stored_b64, server_b64)
        salt, stored, server = (base64.b64decode(p, validate=True) for p in parts)
        iterations = int(iterations_text)
    except (ValueError, binascii.Error):
        raise ValueError("malformed SCRAM-SHA-256 verifier") from None
    if iterations < 1 or not salt or len(stored) != 32 or len(server) != 32:
        raise ValueError("malformed SCRAM-SHA-256 verifier")
    return iterations, salt, stored, server
