"""The VeilError tree.

Every error veil raises on purpose is a VeilError, so callers can tell "veil refused
or failed cleanly" from "a bug".  Error messages never carry raw data values: they
end up in logs, audit events and client ErrorResponses.
"""

from __future__ import annotations


class VeilError(Exception):
    """Base of every error veil raises deliberately."""


class ConfigError(VeilError):
    """A configuration file or value is invalid.

    ``key`` is the dotted path of the offending key (``policies[2].access``),
    ``source`` the file and ``line`` the 1-based line, when known.
    """

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None,
                 line: int | None = None) -> None:
        self.key = key
        self.source = source
        self.line = line
        where = ""
        if source:
            where = f"{source}:{line}: " if line else f"{source}: "
        prefix = f"{key}: " if key else ""
        super().__init__(f"{where}{prefix}{message}")


class ProtocolError(VeilError):
    """A peer violated the wire protocol (or we were about to)."""


class LocalProtocolError(ProtocolError):
    """*We* tried to send something the protocol does not allow (our bug or misuse)."""


class RemoteProtocolError(ProtocolError):
    """The *peer* sent bytes that break the protocol: malformed, oversized, out of phase."""


class AuthError(VeilError):
    """Authentication failed. The message is safe to show to the client.

    Deliberately vague towards clients (no "unknown user" vs "wrong password").
    """

    sqlstate = "28P01"


class TokenError(AuthError):
    """An access token was refused (bad signature, issuer, audience, times, size...): FATAL 28000.

    The message stays vague for the client; ``reason`` says why for logs and the
    audit, and never carries token content.
    """

    sqlstate = "28000"

    def __init__(self, message: str, *, reason: str = "") -> None:
        self.reason = reason
        super().__init__(message)


class TokenExpiredError(AuthError):
    """A session's access token expired; the session must end (FATAL 28000)."""

    sqlstate = "28000"


class PolicyDenied(VeilError):
    """A statement or session was refused by policy.

    ``policy`` names the policy that refused, ``rule`` the permanent rule id.
    """

    sqlstate = "42501"

    def __init__(self, message: str, *, policy: str | None = None, rule: str | None = None,
                 sqlstate: str = "42501") -> None:
        self.policy = policy
        self.rule = rule
        self.sqlstate = sqlstate
        super().__init__(message)


class MaskingError(VeilError):
    """A value could not be masked; the statement must fail closed."""


class KeyError_(VeilError):
    """A key file is missing, malformed or has the wrong permissions."""


class AuditError(VeilError):
    """The audit trail could not be written."""


class AuditStoreUnavailable(AuditError):
    """The audit store cannot be reached; with ``on_store_failure: refuse`` statements are refused."""


class AuditIntegrityError(AuditError):
    """Verification of the trail failed. ``seq`` names the first bad event when known."""

    def __init__(self, message: str, *, seq: int | None = None, event_id: str | None = None) -> None:
        self.seq = seq
        self.event_id = event_id
        super().__init__(message)


class UpstreamError(VeilError):
    """The upstream database could not be reached or failed the session."""

    sqlstate = "08006"


class ResourceLimitError(VeilError):
    """A connection or resource cap was reached (SQLSTATE 53300)."""

    sqlstate = "53300"
