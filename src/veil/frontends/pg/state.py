"""The relay's bookkeeping types and the small pure helpers of the hot path.

Prepared statements, portals and in-flight ``Slot``s are what the ``Exchange`` keeps per
session; the helpers read the few fields the relay needs straight from raw message
bytes (cheaper than the generic decoder) or build the stand-ins it sends upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.errors import RemoteProtocolError, VeilError
from veil.frontends.pg.local import LocalCommand
from veil.pipeline.hooks import Request, RowMasker
from veil.values import ColumnInfo, Decision, MaskProvenance
from veil.wire.pg import messages as m


@dataclass(slots=True)
class Statement:
    """A prepared statement the client created with Parse."""

    sql: str
    request: Request | None = None  # authorized at Parse, not yet executed
    description: m.RowDescription | None = None
    local: LocalCommand | None = None


@dataclass(slots=True)
class Portal:
    """A portal the client created with Bind."""

    statement: Statement
    bind: m.Bind
    request: Request | None = None
    description: m.RowDescription | None = None
    masker: RowMasker | None = None
    planned: bool = False


@dataclass(slots=True)
class Slot:
    """One client message that awaits an answer from upstream, or a local answer."""

    kind: str  # Q P B D E C S F, or L (local answer, ``local`` bytes)
    request: Request | None = None
    local: bytes = b""
    statement: Statement | None = None
    portal: Portal | None = None
    describe: str = ""  # S or P for Describe
    refusal: bytes = b""  # the ErrorResponse that replaces the upstream's error (a refused request)


class FailingMasker:
    """Stands in when planning failed: the first row raises, so the result fails closed."""

    def __init__(self, exc: Exception) -> None:
        self._exc = exc

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        raise self._exc

    def provenance(self) -> list[MaskProvenance]:
        return []


DESCRIPTION_CACHE = 256

# What a refused statement is replaced with upstream: always a syntax error, never executed.
POISON_SQL = "veil: statement refused by policy"
POISON_QUERY = m.Query(POISON_SQL).encode()
POISON_PARSE = m.Parse("", POISON_SQL).encode()

# The fast-path functions clients call by OID (libpq's and JDBC's large-object API); their
# OIDs are fixed in pg_proc.  Anything else is described so that analysis says "unknown".
_FASTPATH_FUNCTIONS = {
    715: "lo_create", 952: "lo_open", 953: "lo_close", 954: "loread", 955: "lowrite", 956: "lo_lseek",
    957: "lo_creat", 958: "lo_tell", 964: "lo_unlink", 1004: "lo_truncate", 3170: "lo_lseek64",
    3171: "lo_tell64", 3172: "lo_truncate64",
}


def function_call_sql(call: m.FunctionCall) -> str:
    """SQL standing for a FunctionCall message, so policy judges it like the equivalent SELECT."""
    name = _FASTPATH_FUNCTIONS.get(call.function_oid)
    if name is None:
        return f"/* FunctionCall of function OID {call.function_oid} */ FUNCTION CALL"  # unparseable: unknown
    args = ", ".join(f"${i + 1}" for i in range(len(call.args)))
    return f"SELECT pg_catalog.{name}({args})"


def query_text(raw: bytes) -> str:
    """The SQL of a whole Query message; the fast path skips the generic decoder."""
    if raw[-1:] == b"\0" and raw.find(b"\0", 5) == len(raw) - 1:
        return raw[5:-1].decode("utf-8", "surrogateescape")
    return m.Query.decode(raw[5:]).query


def tag_rows(raw: bytes) -> int:
    """The row count at the end of a CommandComplete tag (``SELECT 5``, ``INSERT 0 5``)."""
    if raw[-1:] != b"\0":
        raise RemoteProtocolError("malformed CommandComplete message")
    last = raw[5:-1].rsplit(b" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def columns_of(description: m.RowDescription, bind: m.Bind | None) -> list[ColumnInfo]:
    return [
        ColumnInfo(name=f.name, type_oid=f.type_oid,
                   format=bind.result_format(i) if bind is not None else f.format,
                   table_oid=f.table_oid, attnum=f.column_attnum, type_modifier=f.type_modifier,
                   type_size=f.type_size)
        for i, f in enumerate(description.fields)
    ]


def refusal_text(decision: Decision) -> str:
    reasons = "; ".join(decision.reasons) or "not allowed"
    return f"veil: refused by policy {decision.policy or '(no matching policy)'}: {reasons}"


class EndSession(VeilError):
    """The session must end now: the relay sends FATAL ``sqlstate`` with this message and closes."""

    def __init__(self, sqlstate: str, message: str) -> None:
        self.sqlstate = sqlstate
        super().__init__(message)


class ClientProtocolViolation(VeilError):
    """The client sent a message that has no place in the protocol (FATAL 08P01)."""
