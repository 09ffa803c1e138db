"""Reading the fields of one message body.

A ``BodyReader`` walks a message body with a cursor.  Every read checks bounds, so a
short or malformed body raises ``RemoteProtocolError`` (the peer's fault) instead of
``struct.error`` or ``IndexError`` leaking out of the codec.
"""

from __future__ import annotations

import struct

from veil.errors import RemoteProtocolError

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")

ENCODING = "utf-8"
# surrogateescape keeps invalid UTF-8 round-tripping byte for byte (encode(decode(b)) == b)
ERRORS = "surrogateescape"


class BodyReader:
    """A bounds-checked cursor over one message body."""

    __slots__ = ("_buf", "_name", "_pos")

    def __init__(self, buf: bytes, name: str) -> None:
        self._buf = buf
        self._pos = 0
        self._name = name

    def _fail(self, what: str) -> RemoteProtocolError:
        return RemoteProtocolError(f"malformed {self._name} message: {what}")

    def _take(self, n: int) -> bytes:
        end = self._pos + n
        if n < 0 or end > len(self._buf):
            raise self._fail("truncated")
        out = self._buf[self._pos : end]
        self._pos = end
        return out

    def byte(self) -> str:
        return self._take(1).decode("latin-1")

    def int16(self) -> int:
        return int(_I16.unpack(self._take(2))[0])

    def int32(self) -> int:
        return int(_I32.unpack(self._take(4))[0])

    def uint32(self) -> int:
        return int(_U32.unpack(self._take(4))[0])

    def cstring(self) -> str:
        end = self._buf.find(b"\0", self._pos)
        if end < 0:
            raise self._fail("unterminated string")
        out = self._buf[self._pos : end]
        self._pos = end + 1
        return out.decode(ENCODING, ERRORS)

    def raw(self, n: int) -> bytes:
        return self._take(n)

    def value(self) -> bytes | None:
        """An int32 length then that many bytes; length -1 is NULL."""
        n = self.int32()
        if n == -1:
            return None
        if n < -1:
            raise self._fail("negative length")
        return self._take(n)

    def int16_array(self) -> tuple[int, ...]:
        n = self.int16()
        if n < 0:
            raise self._fail("negative count")
        return tuple(self.int16() for _ in range(n))

    def count(self) -> int:
        n = self.int16()
        if n < 0:
            raise self._fail("negative count")
        return n

    def rest(self) -> bytes:
        out = self._buf[self._pos :]
        self._pos = len(self._buf)
        return out

    def at_end(self) -> bool:
        return self._pos == len(self._buf)

    def finish(self) -> None:
        if self._pos != len(self._buf):
            raise self._fail(f"{len(self._buf) - self._pos} unexpected trailing bytes")


_INT16 = struct.Struct("!h").unpack_from
_INT32 = struct.Struct("!i").unpack_from


def data_row_values(message: bytes) -> list[bytes | None]:
    """The column values of one whole DataRow message (header included), on the masking hot path.

    Equivalent to ``DataRow.decode(message[5:]).values`` without a reader object per field;
    a length that runs past the message raises ``RemoteProtocolError``, as the codec does.
    """
    end = len(message)
    if end < 7:
        raise RemoteProtocolError("DataRow too short")
    (count,) = _INT16(message, 5)
    pos = 7
    values: list[bytes | None] = []
    append = values.append
    for _ in range(count):
        if pos + 4 > end:
            raise RemoteProtocolError("DataRow truncated")
        (size,) = _INT32(message, pos)
        pos += 4
        if size < 0:
            if size != -1:
                raise RemoteProtocolError(f"invalid DataRow value length {size}")
            append(None)
            continue
        stop = pos + size
        if stop > end:
            raise RemoteProtocolError("DataRow value runs past the message")
        append(message[pos:stop])
        pos = stop
    if pos != end:
        raise RemoteProtocolError("trailing bytes after DataRow values")
    return values
