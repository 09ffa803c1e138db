"""TLS towards clients: the server context and the channel-binding data.

SCRAM-SHA-256-PLUS with ``tls-server-end-point`` (RFC 5929) binds the login to the
certificate veil presents: the hash of that DER certificate, with SHA-256 standing
in for MD5/SHA-1 signature hashes.  Computed once per certificate, not per login.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class ServerTLS:
    """A loaded server certificate: the SSL context and its end-point binding hash."""

    context: ssl.SSLContext
    end_point_hash: bytes

    @classmethod
    def load(cls, cert: Path, key: Path, *, min_version: str = "1.2") -> ServerTLS:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _VERSIONS.get(min_version, ssl.TLSVersion.TLSv1_2)
        context.load_cert_chain(str(cert), str(key))
        return cls(context, end_point_hash(Path(cert).read_bytes()))


def end_point_hash(cert_pem: bytes) -> bytes:
    """RFC 5929 tls-server-end-point: hash of the DER certificate (SHA-256 for MD5/SHA-1)."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    algorithm = certificate.signature_hash_algorithm
    if algorithm is None or isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate.public_bytes(Encoding.DER))
    return digest.finalize()

