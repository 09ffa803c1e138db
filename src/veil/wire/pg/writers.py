"""Writing message bodies and frames.

The inverse of ``readers``: the same encoding rules (UTF-8 with surrogateescape), so a
decoded message encodes back to the bytes it came from.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from veil.errors import LocalProtocolError
from veil.wire.pg.readers import ENCODING, ERRORS

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_HEADER = struct.Struct("!ci")


def cstring(value: str) -> bytes:
    data = value.encode(ENCODING, ERRORS)
    if b"\0" in data:
        raise LocalProtocolError("a protocol string may not contain a NUL byte")
    return data + b"\0"


def int16(value: int) -> bytes:
    try:
        return _I16.pack(value)
    except struct.error as exc:
        raise LocalProtocolError(f"int16 out of range: {value}") from exc


def int32(value: int) -> bytes:
    try:
        return _I32.pack(value)
    except struct.error as exc:
        raise LocalProtocolError(f"int32 out of range: {value}") from exc


def uint32(value: int) -> bytes:
    try:
        return _U32.pack(value)
    except struct.error as exc:
        raise LocalProtocolError(f"uint32 out of range: {value}") from exc


def value(data: bytes | None) -> bytes:
    """int32 length + bytes; NULL is length -1."""
    if data is None:
        return b"\xff\xff\xff\xff"
    return _I32.pack(len(data)) + data


def int16_array(values: Iterable[int]) -> bytes:
    items = tuple(values)
    return int16(len(items)) + b"".join(int16(v) for v in items)


def frame(type_code: bytes, body: bytes) -> bytes:
    """A typed message: one type byte, int32 length (counting itself), the body."""
    return _HEADER.pack(type_code, len(body) + 4) + body


def untyped_frame(body: bytes) -> bytes:
    """A startup-phase packet: int32 length (counting itself), the body."""
    return _I32.pack(len(body) + 4) + body


_NULL = struct.pack("!i", -1)
_PACK_INT32 = struct.Struct("!i").pack
_PACK_HEADER = struct.Struct("!cih").pack  # type byte, length, value count


def data_row(values: list[bytes | None]) -> bytes:
    """A whole DataRow message for ``values``; the masking hot path's encoder."""
    parts = [b""]
    append = parts.append
    size = 6  # the length field itself and the value count
    for v in values:
        if v is None:
            append(_NULL)
            size += 4
        else:
            append(_PACK_INT32(len(v)))
            append(v)
            size += 4 + len(v)
    parts[0] = _PACK_HEADER(b"D", size, len(values))
    return b"".join(parts)
