"""The protocol's phases and the one table of transitions between them.

A phase is the state of the conversation as a whole.  ``TRANSITIONS`` maps
``(phase, sender, message name)`` to the next phase; a message not in the table for
the current phase is a protocol violation (the sender's fault).  Messages that may
come in any phase after startup (asynchronous ParameterStatus, NoticeResponse,
NotificationResponse) are listed once in ``ASYNC_BACKEND``.
"""

from __future__ import annotations

from enum import Enum


class Role(Enum):
    FRONTEND = "frontend"  # the client side
    BACKEND = "backend"  # the server side


class Phase(Enum):
    STARTUP = "startup"  # untyped startup packets
    ENCRYPTION = "encryption"  # SSLRequest/GSSENCRequest sent, waiting for the one-byte answer
    AUTHENTICATING = "authenticating"
    STARTING = "starting"  # AuthenticationOk seen, ParameterStatus/BackendKeyData until ReadyForQuery
    READY = "ready"  # regular operation (idle or busy: pipelining keeps both sides moving)
    COPY_IN = "copy-in"
    COPY_OUT = "copy-out"
    COPY_BOTH = "copy-both"
    CLOSED = "closed"


F, B = Role.FRONTEND, Role.BACKEND
P = Phase

ASYNC_BACKEND = frozenset({"ParameterStatus", "NoticeResponse", "NotificationResponse"})

_QUERY_MESSAGES = ("Query", "Parse", "Bind", "Describe", "Execute", "Close", "Sync", "Flush",
                   "FunctionCall", "CopyData", "CopyDone", "CopyFail")
_RESULT_MESSAGES = ("ParseComplete", "BindComplete", "CloseComplete", "NoData", "EmptyQueryResponse",
                    "PortalSuspended", "CommandComplete", "DataRow", "RowDescription", "ErrorResponse",
                    "FunctionCallResponse", "ParameterDescription", "ReadyForQuery")
_AUTH_REQUESTS = ("AuthenticationKerberosV5", "AuthenticationCleartextPassword",
                  "AuthenticationMD5Password", "AuthenticationGSS", "AuthenticationGSSContinue",
                  "AuthenticationSSPI", "AuthenticationSASL", "AuthenticationSASLContinue",
                  "AuthenticationSASLFinal")

TRANSITIONS: dict[tuple[Phase, Role, str], Phase] = {
    (P.STARTUP, F, "StartupMessage"): P.AUTHENTICATING,
    (P.STARTUP, F, "SSLRequest"): P.ENCRYPTION,
    (P.STARTUP, F, "GSSENCRequest"): P.ENCRYPTION,
    (P.STARTUP, F, "CancelRequest"): P.CLOSED,
    (P.ENCRYPTION, B, "SSLResponse"): P.STARTUP,
    (P.AUTHENTICATING, B, "AuthenticationOk"): P.STARTING,
    (P.AUTHENTICATING, B, "NegotiateProtocolVersion"): P.AUTHENTICATING,
    (P.AUTHENTICATING, B, "NoticeResponse"): P.AUTHENTICATING,
    (P.AUTHENTICATING, B, "ErrorResponse"): P.CLOSED,
    (P.AUTHENTICATING, F, "PasswordMessage"): P.AUTHENTICATING,
    (P.AUTHENTICATING, F, "SASLInitialResponse"): P.AUTHENTICATING,
    (P.AUTHENTICATING, F, "SASLResponse"): P.AUTHENTICATING,
    (P.AUTHENTICATING, F, "Terminate"): P.CLOSED,
    **{(P.AUTHENTICATING, B, name): P.AUTHENTICATING for name in _AUTH_REQUESTS},
    (P.STARTING, B, "BackendKeyData"): P.STARTING,
    (P.STARTING, B, "ReadyForQuery"): P.READY,
    (P.STARTING, B, "ErrorResponse"): P.CLOSED,
    (P.STARTING, F, "Terminate"): P.CLOSED,
    **{(P.READY, F, name): P.READY for name in _QUERY_MESSAGES},
    **{(P.READY, B, name): P.READY for name in _RESULT_MESSAGES},
    (P.READY, B, "CopyInResponse"): P.COPY_IN,
    (P.READY, B, "CopyOutResponse"): P.COPY_OUT,
    (P.READY, B, "CopyBothResponse"): P.COPY_BOTH,
    (P.READY, F, "Terminate"): P.CLOSED,
    # COPY FROM STDIN: the client streams; Flush/Sync are allowed and ignored by the server
    **{(P.COPY_IN, F, name): P.COPY_IN for name in ("CopyData", "Flush", "Sync")},
    (P.COPY_IN, F, "CopyDone"): P.READY,
    (P.COPY_IN, F, "CopyFail"): P.READY,
    (P.COPY_IN, F, "Terminate"): P.CLOSED,
    (P.COPY_IN, B, "ErrorResponse"): P.READY,
    # COPY TO STDOUT: the server streams; a pipelining client may already send more queries
    (P.COPY_OUT, B, "CopyData"): P.COPY_OUT,
    (P.COPY_OUT, B, "CopyDone"): P.READY,
    (P.COPY_OUT, B, "ErrorResponse"): P.READY,
    **{(P.COPY_OUT, F, name): P.COPY_OUT for name in _QUERY_MESSAGES},
    (P.COPY_OUT, F, "Terminate"): P.CLOSED,
    # replication-style COPY BOTH: data both ways until either side is done
    (P.COPY_BOTH, F, "CopyData"): P.COPY_BOTH,
    (P.COPY_BOTH, B, "CopyData"): P.COPY_BOTH,
    (P.COPY_BOTH, F, "CopyDone"): P.COPY_BOTH,
    (P.COPY_BOTH, B, "CopyDone"): P.COPY_BOTH,
    (P.COPY_BOTH, B, "CommandComplete"): P.READY,
    (P.COPY_BOTH, B, "ErrorResponse"): P.READY,
    (P.COPY_BOTH, F, "Terminate"): P.CLOSED,
}


def next_phase(phase: Phase, sender: Role, name: str) -> Phase | None:
    """The phase after ``sender`` sends message ``name``; None if not allowed now."""
    found = TRANSITIONS.get((phase, sender, name))
    if found is not None:
        return found
    if sender is Role.BACKEND and name in ASYNC_BACKEND and phase not in (P.STARTUP, P.ENCRYPTION, P.CLOSED):
        return phase
    return None
