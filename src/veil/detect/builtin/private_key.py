"""PEM private keys (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted), also inside JSON with escaped newlines."""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern


class PrivateKeyDetector(Detector):
    name = "private_key"
    type = "secret"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
            r"(?s:.)*?-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
            0.99,
            "PEM private key",
        ),
        # a key cut off (truncated column, log line): the header alone is enough evidence
        Pattern(
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
            r"[A-Za-z0-9+/=\s\\n]{0,64}",
            0.9,
            "PEM private key header",
        ),
    )
