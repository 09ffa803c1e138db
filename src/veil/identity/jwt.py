"""OIDC access tokens sent as the password: verification -> Identity.

Only RS256, ES256 and EdDSA are accepted (never ``none``, never HMAC: a public key
can never become a shared secret).  The key must be found by ``kid`` in the
issuer's JWKS and its type must fit the algorithm.  ``exp``/``nbf``/``iat`` are
checked against the injected clock with a small leeway.  Tokens over 8 KiB are
refused before any parsing.  The connection's user name must be the token's
``sub`` or ``preferred_username``; an RFC 8693 ``act`` claim fills ``Identity.actor``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from veil.errors import TokenError, TokenExpiredError
from veil.identity.jwks import KeySetCache
from veil.values import Identity, Kind

log = logging.getLogger("veil.identity")

MAX_TOKEN_BYTES = 8192
ALLOWED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
_KTY = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One issuer whose tokens we accept, and how to read its claims."""

    issuer: str
    audience: str
    keys: KeySetCache
    groups_claim: str = "groups"
    kind_claim: str = "veil_kind"
    leeway: float = 30.0
    source: Literal["jwt", "dev"] = "jwt"


class TokenVerifier:
    def __init__(self, issuers: Sequence[TrustedIssuer], *, clock: Callable[[], float]) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._clock = clock

    def __bool__(self) -> bool:
        return bool(self._issuers)

    def verify(self, username: str, token: str) -> Identity:
        """The identity the token proves for ``username``; TokenError/TokenExpiredError otherwise."""
        if len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
            raise self._refuse(username, "token larger than 8 KiB")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise self._refuse(username, "malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise self._refuse(username, "algorithm not allowed")
        if kid is not None and not isinstance(kid, str):
            raise self._refuse(username, "malformed key id")
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise self._refuse(username, "untrusted issuer")
        claims = self._verified_claims(username, token, issuer, alg, kid)
        self._check_times(username, claims, issuer.leeway)
        return self._identity(username, claims, issuer)

    def _verified_claims(self, username: str, token: str, issuer: TrustedIssuer, alg: str,
                         kid: str | None) -> dict[str, Any]:
        jwk = issuer.keys.get(kid)
        if jwk is None:
            raise self._refuse(username, "unknown key id")
        if jwk.get("kty") != _KTY[alg] or jwk.get("alg", alg) != alg:
            raise self._refuse(username, "key does not fit the algorithm")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            return jwt.decode(
                token, key.key, algorithms=[alg], audience=issuer.audience, issuer=issuer.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidAudienceError:
            raise self._refuse(username, "wrong audience") from None
        except jwt.InvalidIssuerError:
            raise self._refuse(username, "wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise self._refuse(username, f"missing claim {exc.claim}") from None
        except jwt.InvalidSignatureError:
            raise self._refuse(username, "bad signature") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise self._refuse(username, "invalid token") from None

    def _check_times(self, username: str, claims: dict[str, Any], leeway: float) -> None:
        now = self._clock()
        times = {}
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self._refuse(username, f"claim {name} is not a finite number")
            times[name] = float(value)
        if now > times["exp"] + leeway:
            log.info("token for identity %r refused: expired", username)
            raise TokenExpiredError(f'token expired for user "{username}"')
        if "nbf" in times and times["nbf"] > now + leeway:
            raise self._refuse(username, "token not yet valid")
        if "iat" in times and times["iat"] > now + leeway:
            raise self._refuse(username, "token issued in the future")

    def _identity(self, username: str, claims: dict[str, Any], issuer: TrustedIssuer) -> Identity:
        names = [n for n in (claims.get("sub"), claims.get("preferred_username")) if isinstance(n, str)]
        if username not in names or not username:
            raise self._refuse(username, "user name is neither sub nor preferred_username")
        groups = claims.get(issuer.groups_claim, ())
        if isinstance(groups, str):
            groups = groups.split()
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) for g in groups):
            raise self._refuse(username, f"claim {issuer.groups_claim} is not a list of strings")
        actor = _actor_chain(claims.get("act"))
        kind_value = claims.get(issuer.kind_claim)
        if kind_value is None:
            kind: Kind = "agent" if actor else "human"
        elif kind_value in ("human", "agent"):
            kind = kind_value
        else:
            raise self._refuse(username, f"claim {issuer.kind_claim} is not human or agent")
        return Identity(subject=username, groups=tuple(groups), kind=kind, source=issuer.source,
                        actor=actor, expires_at=float(claims["exp"]))

    def _refuse(self, username: str, reason: str) -> TokenError:
        log.info("token for identity %r refused: %s", username, reason)
        return TokenError(f'token authentication failed for user "{username}"', reason=reason)


def _actor_chain(act: object) -> tuple[str, ...]:
    """RFC 8693 ``act`` (nested, outermost = current actor) -> subjects, outermost first."""
    chain: list[str] = []
    while isinstance(act, dict) and isinstance(act.get("sub"), str) and len(chain) < 16:
        chain.append(act["sub"])
        act = act.get("act")
    return tuple(chain)
