"""Every PostgreSQL protocol-3.0 message, one frozen dataclass each, named as in the docs.

Each class knows its type byte (``TYPE``; startup packets have none) and how to
``encode()`` itself and ``decode(body)`` one body.  Decoding is exact: a body with
trailing bytes is malformed, and ``decode(b).encode() == b`` for every valid ``b``.

``FRONTEND`` and ``BACKEND`` map type bytes to classes for the two directions.  A few
bytes are ambiguous and resolved by the phase (see ``phases``): ``p`` is a
PasswordMessage, SASLInitialResponse or SASLResponse depending on the authentication
exchange, and every ``R`` is an Authentication* message chosen by its subtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from veil.errors import RemoteProtocolError
from veil.wire.pg import writers as w
from veil.wire.pg.readers import BodyReader

PROTOCOL_3_0 = 196608  # 3 << 16
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102

M = TypeVar("M", bound="Message")


class Message:
    """Base of all messages: ``TYPE`` byte, ``encode`` / ``decode``."""

    __slots__ = ()
    TYPE: ClassVar[bytes] = b""

    def encode_body(self) -> bytes:
        return b""

    def encode(self) -> bytes:
        return w.frame(self.TYPE, self.encode_body())

    @classmethod
    def decode(cls: type[M], body: bytes) -> M:
        r = BodyReader(body, cls.__name__)
        msg = cls._read(r)
        r.finish()
        return msg

    @classmethod
    def _read(cls: type[M], r: BodyReader) -> M:
        return cls()


class StartupPacket(Message):
    """A packet of the startup phase: no type byte, an int32 code/version first."""

    __slots__ = ()

    def encode(self) -> bytes:
        return w.untyped_frame(self.encode_body())


# --------------------------------------------------------------------------- startup


@dataclass(frozen=True, slots=True)
class StartupMessage(StartupPacket):
    parameters: tuple[tuple[str, str], ...] = ()
    protocol: int = PROTOCOL_3_0

    @property
    def params(self) -> dict[str, str]:
        return dict(self.parameters)

    def encode_body(self) -> bytes:
        pairs = b"".join(w.cstring(k) + w.cstring(v) for k, v in self.parameters)
        return w.int32(self.protocol) + pairs + b"\0"

    @classmethod
    def _read(cls, r: BodyReader) -> StartupMessage:
        protocol = r.int32()
        pairs: list[tuple[str, str]] = []
        while True:
            key = r.cstring()
            if key == "":
                break
            pairs.append((key, r.cstring()))
        return cls(tuple(pairs), protocol)


@dataclass(frozen=True, slots=True)
class SSLRequest(StartupPacket):
    def encode_body(self) -> bytes:
        return w.int32(SSL_REQUEST_CODE)

    @classmethod
    def _read(cls, r: BodyReader) -> SSLRequest:
        r.int32()
        return cls()


@dataclass(frozen=True, slots=True)
class GSSENCRequest(StartupPacket):
    def encode_body(self) -> bytes:
        return w.int32(GSSENC_REQUEST_CODE)

    @classmethod
    def _read(cls, r: BodyReader) -> GSSENCRequest:
        r.int32()
        return cls()


@dataclass(frozen=True, slots=True)
class CancelRequest(StartupPacket):
    process_id: int
    secret_key: int

    def encode_body(self) -> bytes:
        return w.int32(CANCEL_REQUEST_CODE) + w.int32(self.process_id) + w.int32(self.secret_key)

    @classmethod
    def _read(cls, r: BodyReader) -> CancelRequest:
        r.int32()
        return cls(r.int32(), r.int32())


@dataclass(frozen=True, slots=True)
class SSLResponse(Message):
    """The single byte a server answers SSLRequest/GSSENCRequest with: b'S' or b'N'."""

    accepted: bool

    def encode(self) -> bytes:
        return b"S" if self.accepted else b"N"


def decode_startup(body: bytes) -> StartupPacket:
    """Decode the body of a startup-phase packet by its leading code."""
    if len(body) < 4:
        raise RemoteProtocolError("malformed startup packet: too short")
    code = int.from_bytes(body[:4], "big", signed=True)
    cls: type[StartupPacket]
    if code == SSL_REQUEST_CODE:
        cls = SSLRequest
    elif code == GSSENC_REQUEST_CODE:
        cls = GSSENCRequest
    elif code == CANCEL_REQUEST_CODE:
        cls = CancelRequest
    elif code >> 16 == 3:
        cls = StartupMessage
    else:
        raise RemoteProtocolError(f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}")
    return cls.decode(body)


# --------------------------------------------------------------------------- authentication


@dataclass(frozen=True, slots=True)
class PasswordMessage(Message):
    TYPE: ClassVar[bytes] = b"p"
    password: str

    def encode_body(self) -> bytes:
        return w.cstring(self.password)

    @classmethod
    def _read(cls, r: BodyReader) -> PasswordMessage:
        return cls(r.cstring())


@dataclass(frozen=True, slots=True)
class SASLInitialResponse(Message):
    TYPE: ClassVar[bytes] = b"p"
    mechanism: str
    data: bytes | None

    def encode_body(self) -> bytes:
        return w.cstring(self.mechanism) + w.value(self.data)

    @classmethod
    def _read(cls, r: BodyReader) -> SASLInitialResponse:
        return cls(r.cstring(), r.value())


@dataclass(frozen=True, slots=True)
class SASLResponse(Message):
    TYPE: ClassVar[bytes] = b"p"
    data: bytes

    def encode_body(self) -> bytes:
        return self.data

    @classmethod
    def _read(cls, r: BodyReader) -> SASLResponse:
        return cls(r.rest())


class Authentication(Message):
    """Base of the ``R`` messages; ``CODE`` is the int32 subtype."""

    __slots__ = ()
    TYPE: ClassVar[bytes] = b"R"
    CODE: ClassVar[int] = -1

    def encode_body(self) -> bytes:
        return w.int32(self.CODE) + self._payload()

    def _payload(self) -> bytes:
        return b""

    @classmethod
    def _read(cls: type[M], r: BodyReader) -> M:
        r.int32()
        return cls._read_payload(r)  # type: ignore[attr-defined]

    @classmethod
    def _read_payload(cls, r: BodyReader) -> Any:
        return cls()


@dataclass(frozen=True, slots=True)
class AuthenticationOk(Authentication):
    CODE: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class AuthenticationKerberosV5(Authentication):
    CODE: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class AuthenticationCleartextPassword(Authentication):
    CODE: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class AuthenticationMD5Password(Authentication):
    CODE: ClassVar[int] = 5
    salt: bytes

    def _payload(self) -> bytes:
        return self.salt

    @classmethod
    def _read_payload(cls, r: BodyReader) -> AuthenticationMD5Password:
        return cls(r.raw(4))


@dataclass(frozen=True, slots=True)
class AuthenticationGSS(Authentication):
    CODE: ClassVar[int] = 7


@dataclass(frozen=True, slots=True)
class AuthenticationGSSContinue(Authentication):
    CODE: ClassVar[int] = 8
    data: bytes

    def _payload(self) -> bytes:
        return self.data

    @classmethod
    def _read_payload(cls, r: BodyReader) -> AuthenticationGSSContinue:
        return cls(r.rest())


@dataclass(frozen=True, slots=True)
class AuthenticationSSPI(Authentication):
    CODE: ClassVar[int] = 9


@dataclass(frozen=True, slots=True)
class AuthenticationSASL(Authentication):
    CODE: ClassVar[int] = 10
    mechanisms: tuple[str, ...]

    def _payload(self) -> bytes:
        return b"".join(w.cstring(m) for m in self.mechanisms) + b"\0"

    @classmethod
    def _read_payload(cls, r: BodyReader) -> AuthenticationSASL:
        mechs: list[str] = []
        while (m := r.cstring()) != "":
            mechs.append(m)
        return cls(tuple(mechs))


@dataclass(frozen=True, slots=True)
class AuthenticationSASLContinue(Authentication):
    CODE: ClassVar[int] = 11
    data: bytes

    def _payload(self) -> bytes:
        return self.data

    @classmethod
    def _read_payload(cls, r: BodyReader) -> AuthenticationSASLContinue:
        return cls(r.rest())


@dataclass(frozen=True, slots=True)
class AuthenticationSASLFinal(Authentication):
    CODE: ClassVar[int] = 12
    data: bytes

    def _payload(self) -> bytes:
        return self.data

    @classmethod
    def _read_payload(cls, r: BodyReader) -> AuthenticationSASLFinal:
        return cls(r.rest())


AUTHENTICATION: dict[int, type[Authentication]] = {
    c.CODE: c
    for c in (AuthenticationOk, AuthenticationKerberosV5, AuthenticationCleartextPassword,
              AuthenticationMD5Password, AuthenticationGSS, AuthenticationGSSContinue, AuthenticationSSPI,
              AuthenticationSASL, AuthenticationSASLContinue, AuthenticationSASLFinal)
}


def decode_authentication(body: bytes) -> Authentication:
    if len(body) < 4:
        raise RemoteProtocolError("malformed Authentication message: too short")
    cls = AUTHENTICATION.get(int.from_bytes(body[:4], "big", signed=True))
    if cls is None:
        raise RemoteProtocolError("unknown Authentication request type")
    return cls.decode(body)


# --------------------------------------------------------------------------- frontend


@dataclass(frozen=True, slots=True)
class Query(Message):
    TYPE: ClassVar[bytes] = b"Q"
    query: str

    def encode_body(self) -> bytes:
        return w.cstring(self.query)

    @classmethod
    def _read(cls, r: BodyReader) -> Query:
        return cls(r.cstring())


@dataclass(frozen=True, slots=True)
class Parse(Message):
    TYPE: ClassVar[bytes] = b"P"
    name: str
    query: str
    param_types: tuple[int, ...] = ()

    def encode_body(self) -> bytes:
        types = w.int16(len(self.param_types)) + b"".join(w.uint32(t) for t in self.param_types)
        return w.cstring(self.name) + w.cstring(self.query) + types

    @classmethod
    def _read(cls, r: BodyReader) -> Parse:
        name, query = r.cstring(), r.cstring()
        return cls(name, query, tuple(r.uint32() for _ in range(r.count())))


@dataclass(frozen=True, slots=True)
class Bind(Message):
    TYPE: ClassVar[bytes] = b"B"
    portal: str
    statement: str
    param_formats: tuple[int, ...] = ()
    params: tuple[bytes | None, ...] = ()
    result_formats: tuple[int, ...] = ()

    def encode_body(self) -> bytes:
        params = w.int16(len(self.params)) + b"".join(w.value(p) for p in self.params)
        return (w.cstring(self.portal) + w.cstring(self.statement) + w.int16_array(self.param_formats)
                + params + w.int16_array(self.result_formats))

    @classmethod
    def _read(cls, r: BodyReader) -> Bind:
        portal, statement = r.cstring(), r.cstring()
        formats = r.int16_array()
        params = tuple(r.value() for _ in range(r.count()))
        return cls(portal, statement, formats, params, r.int16_array())

    def result_format(self, column: int) -> int:
        """The format of result column ``column`` per the Bind rules (none/one/each)."""
        if not self.result_formats:
            return 0
        if len(self.result_formats) == 1:
            return self.result_formats[0]
        return self.result_formats[column] if column < len(self.result_formats) else 0


@dataclass(frozen=True, slots=True)
class Describe(Message):
    TYPE: ClassVar[bytes] = b"D"
    kind: str  # "S" statement | "P" portal
    name: str

    def encode_body(self) -> bytes:
        return self.kind.encode("latin-1") + w.cstring(self.name)

    @classmethod
    def _read(cls, r: BodyReader) -> Describe:
        kind = r.byte()
        if kind not in ("S", "P"):
            raise RemoteProtocolError("malformed Describe message: kind must be S or P")
        return cls(kind, r.cstring())


@dataclass(frozen=True, slots=True)
class Execute(Message):
    TYPE: ClassVar[bytes] = b"E"
    portal: str
    max_rows: int = 0

    def encode_body(self) -> bytes:
        return w.cstring(self.portal) + w.int32(self.max_rows)

    @classmethod
    def _read(cls, r: BodyReader) -> Execute:
        return cls(r.cstring(), r.int32())


@dataclass(frozen=True, slots=True)
class Close(Message):
    TYPE: ClassVar[bytes] = b"C"
    kind: str  # "S" | "P"
    name: str

    def encode_body(self) -> bytes:
        return self.kind.encode("latin-1") + w.cstring(self.name)

    @classmethod
    def _read(cls, r: BodyReader) -> Close:
        kind = r.byte()
        if kind not in ("S", "P"):
            raise RemoteProtocolError("malformed Close message: kind must be S or P")
        return cls(kind, r.cstring())


@dataclass(frozen=True, slots=True)
class Sync(Message):
    TYPE: ClassVar[bytes] = b"S"


@dataclass(frozen=True, slots=True)
class Flush(Message):
    TYPE: ClassVar[bytes] = b"H"


@dataclass(frozen=True, slots=True)
class Terminate(Message):
    TYPE: ClassVar[bytes] = b"X"


@dataclass(frozen=True, slots=True)
class CopyData(Message):
    TYPE: ClassVar[bytes] = b"d"
    data: bytes

    def encode_body(self) -> bytes:
        return self.data

    @classmethod
    def _read(cls, r: BodyReader) -> CopyData:
        return cls(r.rest())


@dataclass(frozen=True, slots=True)
class CopyDone(Message):
    TYPE: ClassVar[bytes] = b"c"


@dataclass(frozen=True, slots=True)
class CopyFail(Message):
    TYPE: ClassVar[bytes] = b"f"
    message: str

    def encode_body(self) -> bytes:
        return w.cstring(self.message)

    @classmethod
    def _read(cls, r: BodyReader) -> CopyFail:
        return cls(r.cstring())


@dataclass(frozen=True, slots=True)
class FunctionCall(Message):
    TYPE: ClassVar[bytes] = b"F"
    function_oid: int
    arg_formats: tuple[int, ...] = ()
    args: tuple[bytes | None, ...] = ()
    result_format: int = 0

    def encode_body(self) -> bytes:
        args = w.int16(len(self.args)) + b"".join(w.value(a) for a in self.args)
        return (w.uint32(self.function_oid) + w.int16_array(self.arg_formats) + args
                + w.int16(self.result_format))

    @classmethod
    def _read(cls, r: BodyReader) -> FunctionCall:
        oid, formats = r.uint32(), r.int16_array()
        args = tuple(r.value() for _ in range(r.count()))
        return cls(oid, formats, args, r.int16())


# --------------------------------------------------------------------------- backend


@dataclass(frozen=True, slots=True)
class BackendKeyData(Message):
    TYPE: ClassVar[bytes] = b"K"
    process_id: int
    secret_key: int

    def encode_body(self) -> bytes:
        return w.int32(self.process_id) + w.int32(self.secret_key)

    @classmethod
    def _read(cls, r: BodyReader) -> BackendKeyData:
        return cls(r.int32(), r.int32())


@dataclass(frozen=True, slots=True)
class ParseComplete(Message):
    TYPE: ClassVar[bytes] = b"1"


@dataclass(frozen=True, slots=True)
class BindComplete(Message):
    TYPE: ClassVar[bytes] = b"2"


@dataclass(frozen=True, slots=True)
class CloseComplete(Message):
    TYPE: ClassVar[bytes] = b"3"


@dataclass(frozen=True, slots=True)
class NoData(Message):
    TYPE: ClassVar[bytes] = b"n"


@dataclass(frozen=True, slots=True)
class EmptyQueryResponse(Message):
    TYPE: ClassVar[bytes] = b"I"


@dataclass(frozen=True, slots=True)
class PortalSuspended(Message):
    TYPE: ClassVar[bytes] = b"s"


@dataclass(frozen=True, slots=True)
class CommandComplete(Message):
    TYPE: ClassVar[bytes] = b"C"
    tag: str

    def encode_body(self) -> bytes:
        return w.cstring(self.tag)

    @classmethod
    def _read(cls, r: BodyReader) -> CommandComplete:
        return cls(r.cstring())

    def rows(self) -> int:
        """The row count at the end of the tag (``SELECT 5``, ``INSERT 0 5``), else 0."""
        last = self.tag.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0


class _CopyResponse(Message):
    __slots__ = ()
    format: int
    column_formats: tuple[int, ...]

    def encode_body(self) -> bytes:
        return bytes([self.format & 0xFF]) + w.int16_array(self.column_formats)

    @classmethod
    def _read(cls: type[M], r: BodyReader) -> M:
        fmt = r.raw(1)[0]
        return cls(fmt, r.int16_array())  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class CopyInResponse(_CopyResponse):
    TYPE: ClassVar[bytes] = b"G"
    format: int
    column_formats: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CopyOutResponse(_CopyResponse):
    TYPE: ClassVar[bytes] = b"H"
    format: int
    column_formats: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CopyBothResponse(_CopyResponse):
    TYPE: ClassVar[bytes] = b"W"
    format: int
    column_formats: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DataRow(Message):
    TYPE: ClassVar[bytes] = b"D"
    values: tuple[bytes | None, ...]

    def encode_body(self) -> bytes:
        return w.int16(len(self.values)) + b"".join(w.value(v) for v in self.values)

    @classmethod
    def _read(cls, r: BodyReader) -> DataRow:
        return cls(tuple(r.value() for _ in range(r.count())))


class _FieldsMessage(Message):
    """ErrorResponse / NoticeResponse: (code, value) pairs, code one byte."""

    __slots__ = ()
    fields: tuple[tuple[str, str], ...]

    def encode_body(self) -> bytes:
        return b"".join(code.encode("latin-1") + w.cstring(v) for code, v in self.fields) + b"\0"

    @classmethod
    def _read(cls: type[M], r: BodyReader) -> M:
        fields: list[tuple[str, str]] = []
        while (code := r.byte()) != "\0":
            fields.append((code, r.cstring()))
        return cls(tuple(fields))  # type: ignore[call-arg]

    def get(self, code: str, default: str = "") -> str:
        for c, v in self.fields:
            if c == code:
                return v
        return default

    @property
    def sqlstate(self) -> str:
        return self.get("C")

    @property
    def severity(self) -> str:
        return self.get("V") or self.get("S")


@dataclass(frozen=True, slots=True)
class ErrorResponse(_FieldsMessage):
    TYPE: ClassVar[bytes] = b"E"
    fields: tuple[tuple[str, str], ...]

    @classmethod
    def make(cls, severity: str, sqlstate: str, message: str, **extra: str) -> ErrorResponse:
        """An error as veil sends it: S/V severity, C code, M message (+ D detail, H hint)."""
        fields = [("S", severity), ("V", severity), ("C", sqlstate), ("M", message)]
        names = {"detail": "D", "hint": "H"}
        fields += [(names[k], v) for k, v in extra.items()]
        return cls(tuple(fields))


@dataclass(frozen=True, slots=True)
class NoticeResponse(_FieldsMessage):
    TYPE: ClassVar[bytes] = b"N"
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class FunctionCallResponse(Message):
    TYPE: ClassVar[bytes] = b"V"
    result: bytes | None

    def encode_body(self) -> bytes:
        return w.value(self.result)

    @classmethod
    def _read(cls, r: BodyReader) -> FunctionCallResponse:
        return cls(r.value())


@dataclass(frozen=True, slots=True)
class NegotiateProtocolVersion(Message):
    """The newest protocol the server speaks, as a full version code (PostgreSQL sends
    ``(3 << 16) | minor`` although the docs speak of "the newest minor version"), and the
    ``_pq_.`` options it did not recognise."""

    TYPE: ClassVar[bytes] = b"v"
    version: int
    unrecognized: tuple[str, ...] = ()

    def encode_body(self) -> bytes:
        return (w.int32(self.version) + w.int32(len(self.unrecognized))
                + b"".join(w.cstring(o) for o in self.unrecognized))

    @classmethod
    def _read(cls, r: BodyReader) -> NegotiateProtocolVersion:
        version, n = r.int32(), r.int32()
        if n < 0:
            raise RemoteProtocolError("malformed NegotiateProtocolVersion message: negative count")
        return cls(version, tuple(r.cstring() for _ in range(n)))


@dataclass(frozen=True, slots=True)
class NotificationResponse(Message):
    TYPE: ClassVar[bytes] = b"A"
    process_id: int
    channel: str
    payload: str

    def encode_body(self) -> bytes:
        return w.int32(self.process_id) + w.cstring(self.channel) + w.cstring(self.payload)

    @classmethod
    def _read(cls, r: BodyReader) -> NotificationResponse:
        return cls(r.int32(), r.cstring(), r.cstring())


@dataclass(frozen=True, slots=True)
class ParameterDescription(Message):
    TYPE: ClassVar[bytes] = b"t"
    type_oids: tuple[int, ...]

    def encode_body(self) -> bytes:
        return w.int16(len(self.type_oids)) + b"".join(w.uint32(t) for t in self.type_oids)

    @classmethod
    def _read(cls, r: BodyReader) -> ParameterDescription:
        return cls(tuple(r.uint32() for _ in range(r.count())))


@dataclass(frozen=True, slots=True)
class ParameterStatus(Message):
    TYPE: ClassVar[bytes] = b"S"
    name: str
    value: str

    def encode_body(self) -> bytes:
        return w.cstring(self.name) + w.cstring(self.value)

    @classmethod
    def _read(cls, r: BodyReader) -> ParameterStatus:
        return cls(r.cstring(), r.cstring())


@dataclass(frozen=True, slots=True)
class ReadyForQuery(Message):
    TYPE: ClassVar[bytes] = b"Z"
    status: str  # "I" idle | "T" in transaction | "E" failed transaction

    def encode_body(self) -> bytes:
        return self.status.encode("latin-1")

    @classmethod
    def _read(cls, r: BodyReader) -> ReadyForQuery:
        status = r.byte()
        if status not in ("I", "T", "E"):
            raise RemoteProtocolError("malformed ReadyForQuery message: bad status")
        return cls(status)


@dataclass(frozen=True, slots=True)
class FieldDescription:
    """One column of a RowDescription."""

    name: str
    table_oid: int = 0
    column_attnum: int = 0
    type_oid: int = 25
    type_size: int = -1
    type_modifier: int = -1
    format: int = 0


@dataclass(frozen=True, slots=True)
class RowDescription(Message):
    TYPE: ClassVar[bytes] = b"T"
    fields: tuple[FieldDescription, ...]

    def encode_body(self) -> bytes:
        out = [w.int16(len(self.fields))]
        for f in self.fields:
            out.append(w.cstring(f.name) + w.uint32(f.table_oid) + w.int16(f.column_attnum)
                       + w.uint32(f.type_oid) + w.int16(f.type_size) + w.int32(f.type_modifier)
                       + w.int16(f.format))
        return b"".join(out)

    @classmethod
    def _read(cls, r: BodyReader) -> RowDescription:
        fields = tuple(
            FieldDescription(r.cstring(), r.uint32(), r.int16(), r.uint32(), r.int16(), r.int32(), r.int16())
            for _ in range(r.count())
        )
        return cls(fields)


FRONTEND: dict[bytes, type[Message]] = {
    c.TYPE: c
    for c in (PasswordMessage, Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, Terminate,
              CopyData, CopyDone, CopyFail, FunctionCall)
}
"""Messages a client sends after startup, by type byte (``p`` defaults to PasswordMessage)."""

BACKEND: dict[bytes, type[Message]] = {
    c.TYPE: c
    for c in (AuthenticationOk, BackendKeyData, ParseComplete, BindComplete, CloseComplete, NoData,
              EmptyQueryResponse, PortalSuspended, CommandComplete, CopyInResponse, CopyOutResponse,
              CopyBothResponse, CopyData, CopyDone, DataRow, ErrorResponse, NoticeResponse,
              FunctionCallResponse, NegotiateProtocolVersion, NotificationResponse, ParameterDescription,
              ParameterStatus, ReadyForQuery, RowDescription)
}
"""Messages a server sends, by type byte (``R`` is dispatched by ``decode_authentication``)."""


def decode_frontend(type_code: bytes, body: bytes) -> Message:
    cls = FRONTEND.get(type_code)
    if cls is None:
        raise RemoteProtocolError(f"unknown frontend message type {type_code!r}")
    return cls.decode(body)


def decode_backend(type_code: bytes, body: bytes) -> Message:
    if type_code == b"R":
        return decode_authentication(body)
    cls = BACKEND.get(type_code)
    if cls is None:
        raise RemoteProtocolError(f"unknown backend message type {type_code!r}")
    return cls.decode(body)
