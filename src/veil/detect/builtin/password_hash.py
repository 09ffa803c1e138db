"""Password hashes: bcrypt, argon2, scrypt, crypt(3) MD5/SHA-256/SHA-512, PBKDF2, SCRAM verifiers.

Hashes are credentials: offline cracking turns them into passwords.
"""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern

_C = r"[./A-Za-z0-9]"
_B64 = r"[A-Za-z0-9+/=]"


class PasswordHashDetector(Detector):
    name = "password_hash"
    type = "secret"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(r"\$2[abxy]?\$[0-9]{2}\$" + _C + "{53}", 0.98, "bcrypt hash"),
        Pattern(
            r"\$argon2(?:id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$" + _B64 + r"{8,}\$" + _B64 + "{16,}",
            0.98,
            "argon2 hash",
        ),
        Pattern(
            r"\$scrypt\$ln=[0-9]+,r=[0-9]+,p=[0-9]+\$" + _B64 + r"{8,}\$" + _B64 + "{16,}",
            0.98,
            "scrypt hash",
        ),
        Pattern(r"\$7\$" + _C + "{11,}\\$" + _C + "{43}", 0.95, "scrypt hash"),
        Pattern(r"\$6\$(?:rounds=[0-9]+\$)?" + _C + r"{1,16}\$" + _C + "{86}", 0.98, "sha512-crypt hash"),
        Pattern(r"\$5\$(?:rounds=[0-9]+\$)?" + _C + r"{1,16}\$" + _C + "{43}", 0.98, "sha256-crypt hash"),
        Pattern(r"\$1\$" + _C + r"{0,8}\$" + _C + "{22}", 0.95, "md5-crypt hash"),
        Pattern(r"\$apr1\$" + _C + r"{0,8}\$" + _C + "{22}", 0.95, "apache md5 hash"),
        Pattern(
            r"pbkdf2_sha(?:1|256|512)\$[0-9]+\$[A-Za-z0-9./+]{4,}\$" + _B64 + "{20,}", 0.97, "PBKDF2 hash"
        ),
        Pattern(
            r"\$pbkdf2(?:-sha(?:256|512))?\$[0-9]+\$" + _C + r"{8,}\$" + _C + "{20,}", 0.97, "PBKDF2 hash"
        ),
        Pattern(
            r"SCRAM-SHA-256\$[0-9]+:" + _B64 + r"{12,}\$" + _B64 + r"{40,}:" + _B64 + "{40,}",
            0.98,
            "SCRAM verifier",
        ),
        Pattern(r"\bmd5[0-9a-f]{32}\b", 0.7, "PostgreSQL md5 password"),
    )
