"""Cutting a byte stream into messages.

Two shapes: startup-phase packets (``int32 length`` then body, no type byte) and
regular messages (``type byte``, ``int32 length`` counting itself, body).  The maximum
message size is part of the API: a length prefix over it is the peer's fault
(``RemoteProtocolError``) and is raised before any of the body is buffered.
"""

from __future__ import annotations

import struct

from veil.errors import RemoteProtocolError

DEFAULT_MAX_MESSAGE_SIZE = (1 << 30) - 1  # PostgreSQL's own MaxAllocSize
MAX_STARTUP_PACKET_SIZE = 10000  # PostgreSQL's MAX_STARTUP_PACKET_LENGTH

_I32 = struct.Struct("!i")
_HEADER = struct.Struct("!ci")


def check_length(length: int, max_size: int, what: str = "message") -> None:
    """Validate a length prefix (it counts its own four bytes)."""
    if length < 4:
        raise RemoteProtocolError(f"invalid {what} length {length}")
    if length > max_size:
        raise RemoteProtocolError(f"{what} length {length} exceeds the limit of {max_size} bytes")


class Framer:
    """Accumulates bytes and yields whole frames ``(type_code, body)``.

    ``startup=True`` expects untyped startup packets (type_code ``b""``) until the owner
    sets ``startup = False`` (after the StartupMessage, or when it knows the phase).
    ``expect_single_byte`` makes the next frame the one-byte answer to SSLRequest.
    """

    __slots__ = ("buffer", "expect_single_byte", "max_message_size", "startup")

    def __init__(self, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, startup: bool = False) -> None:
        self.buffer = bytearray()
        self.max_message_size = max_message_size
        self.startup = startup
        self.expect_single_byte = False

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def next_frame(self) -> tuple[bytes, bytes] | None:
        """The next whole frame, removed from the buffer; None when more bytes are needed."""
        buf = self.buffer
        if self.expect_single_byte:
            if not buf:
                return None
            self.expect_single_byte = False
            code = bytes(buf[:1])
            del buf[:1]
            return code, b""
        if self.startup:
            if len(buf) < 4:
                return None
            (length,) = _I32.unpack_from(buf, 0)
            check_length(length, min(self.max_message_size, MAX_STARTUP_PACKET_SIZE), "startup packet")
            if len(buf) < length:
                return None
            body = bytes(buf[4:length])
            del buf[:length]
            return b"", body
        if len(buf) < 5:
            return None
        type_code, length = _HEADER.unpack_from(buf, 0)
        check_length(length, self.max_message_size)
        if len(buf) < length + 1:
            return None
        body = bytes(buf[5 : length + 1])
        del buf[: length + 1]
        return type_code, body
