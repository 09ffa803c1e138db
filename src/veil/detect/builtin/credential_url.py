"""URLs and connection strings that embed a password.

``scheme://user:password@host`` reports the password span only, so masking keeps the
rest of the URL readable; ``Password=...;`` (ADO/JDBC style) and libpq ``password=...``
likewise.  Placeholders (``${VAR}``, ``***``, ``<password>``) are not secrets.
"""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern

_PLACEHOLDERS = frozenset(
    {"password", "pass", "secret", "xxx", "xxxx", "changeme", "****", "***", "redacted"}
)


class CredentialUrlDetector(Detector):
    name = "credential_url"
    type = "secret"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:/@?#\"']{1,128}:([^\s@/\"']{1,256})@[A-Za-z0-9.\-\[\]_]{1,253}",
            0.98,  # above email: "user:pass@host.com" contains an email-shaped "pass@host.com"
            "URL with password",
        ),
        Pattern(
            r"(?i:\b(?:password|passwd|pwd)\s{0,2}=\s{0,2})([^;\s\"']{3,256})",
            0.85,
            "connection string password",
        ),
        Pattern(
            r"(?i:\b(?:password|passwd|pwd|secret)\"?\s{0,2}:\s{0,2}\")([^\"\s]{3,256})\"",
            0.8,
            "password in JSON",
        ),
    )
    context = ("connect", "dsn", "database", "url", "conn")

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        lowered = candidate.lower().strip("<>[]{}")
        if lowered in _PLACEHOLDERS or candidate.startswith(("${", "$(", "%(", "{{", "<")):
            return None
        if set(candidate) <= {"*", "x", "X", "."}:
            return None
        return pattern.score
