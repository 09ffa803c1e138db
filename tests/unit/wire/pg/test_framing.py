"""Framing: whole, one byte at a time, with trailing bytes, and the size limit."""

from __future__ import annotations

import pytest
from tests.unit.wire.pg.vectors import BACKEND, FRONTEND, STARTUP

from veil.errors import RemoteProtocolError
from veil.wire.pg import messages as m
from veil.wire.pg.framing import MAX_STARTUP_PACKET_SIZE, Framer

ALL = FRONTEND + BACKEND


def frames(framer: Framer) -> list[tuple[bytes, bytes]]:
    out = []
    while (frame := framer.next_frame()) is not None:
        out.append(frame)
    return out


def test_whole_stream() -> None:
    framer = Framer()
    framer.feed(b"".join(msg.encode() for msg in ALL))
    got = frames(framer)
    assert [(t, b) for t, b in got] == [(msg.TYPE, msg.encode()[5:]) for msg in ALL]
    assert not framer.buffer


def test_one_byte_at_a_time() -> None:
    framer = Framer()
    got: list[tuple[bytes, bytes]] = []
    for byte in b"".join(msg.encode() for msg in ALL):
        framer.feed(bytes([byte]))
        got += frames(framer)
    assert got == [(msg.TYPE, msg.encode()[5:]) for msg in ALL]


@pytest.mark.parametrize("msg", ALL, ids=lambda x: type(x).__name__)
def test_trailing_bytes_wait_for_the_next_message(msg: m.Message) -> None:
    framer = Framer()
    framer.feed(msg.encode() + b"Z\x00\x00")
    assert framer.next_frame() == (msg.TYPE, msg.encode()[5:])
    assert framer.next_frame() is None
    assert bytes(framer.buffer) == b"Z\x00\x00"


def test_startup_packets_one_byte_at_a_time() -> None:
    framer = Framer(startup=True)
    got = []
    for byte in b"".join(p.encode() for p in STARTUP):
        framer.feed(bytes([byte]))
        got += frames(framer)
    assert [m.decode_startup(body) for _, body in got] == STARTUP


def test_length_over_the_limit_is_refused_before_buffering() -> None:
    framer = Framer(max_message_size=1024)
    framer.feed(b"Q" + (1025).to_bytes(4, "big"))
    with pytest.raises(RemoteProtocolError, match="exceeds the limit"):
        framer.next_frame()


def test_startup_packet_limit() -> None:
    framer = Framer(startup=True)
    framer.feed((MAX_STARTUP_PACKET_SIZE + 1).to_bytes(4, "big"))
    with pytest.raises(RemoteProtocolError):
        framer.next_frame()


@pytest.mark.parametrize("length", [0, 3, -1])
def test_impossible_lengths(length: int) -> None:
    framer = Framer()
    framer.feed(b"Q" + length.to_bytes(4, "big", signed=True))
    with pytest.raises(RemoteProtocolError):
        framer.next_frame()


def test_single_byte_answer_to_ssl_request() -> None:
    framer = Framer()
    framer.expect_single_byte = True
    framer.feed(b"NR\x00\x00\x00\x08\x00\x00\x00\x00")
    assert framer.next_frame() == (b"N", b"")
    assert framer.next_frame() == (b"R", b"\x00\x00\x00\x00")
