"""JSON Web Tokens: three base64url parts whose first part decodes to a JSON header with ``alg``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import ClassVar

from veil.detect.base import Detector, Pattern


class JwtDetector(Detector):
    name = "jwt"
    type = "secret"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?:^|[^A-Za-z0-9_\-.])(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)"
            r"(?:$|[^A-Za-z0-9_\-.])",
            0.97,
            "JWT",
        ),
    )

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        header = candidate.split(".", 1)[0]
        try:
            decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        except (ValueError, binascii.Error):
            return None
        return pattern.score if isinstance(decoded, dict) and "alg" in decoded else None
