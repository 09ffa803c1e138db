"""Who is asking: static users (SCRAM), OIDC access tokens (JWKS), the local dev issuer.

Front ends use :class:`IdentityProvider`; the HTTP front end serves
:func:`dev_issuer_jwks`; ``veil token issue`` uses :func:`issue_token`.
"""

from veil.identity.dev_issuer import dev_issuer_jwks, ensure_key, issue_token
from veil.identity.jwks import Fetch, file_fetch
from veil.identity.jwt import ALLOWED_ALGORITHMS, MAX_TOKEN_BYTES
from veil.identity.provider import IdentityProvider, is_loopback
from veil.identity.scram import ScramCredentials, make_verifier

__all__ = [
    "ALLOWED_ALGORITHMS", "MAX_TOKEN_BYTES", "Fetch", "IdentityProvider", "ScramCredentials",
    "dev_issuer_jwks", "ensure_key", "file_fetch", "is_loopback", "issue_token", "make_verifier",
]
