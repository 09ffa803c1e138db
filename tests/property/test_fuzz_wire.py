"""Hypothesis fuzzing of the wire codec in both roles (the quick CI twin of ``bench/fuzz.py``).

Why: the codec is the first thing that touches bytes from unauthenticated clients
and from the upstream.  Two properties keep the relay honest: any message veil can
build survives encode -> bytes -> decode unchanged (so forwarding re-encoded
messages never alters them), and any byte mutation of a valid stream ends in a
typed ``ProtocolError`` or a valid message, never in another exception (which
would kill the session handler in an unplanned way, or worse, be caught too broadly).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.errors import ProtocolError
from veil.wire.pg import messages as m
from veil.wire.pg.connection import Connection, Sentinel
from veil.wire.pg.phases import Role

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cstr = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40)
i32 = st.integers(-(2**31), 2**31 - 1)
oid = st.integers(0, 2**31 - 1)
i16 = st.integers(0, 2**15 - 1)
fmt = st.sampled_from([0, 1])
value = st.none() | st.binary(max_size=40)

FRONTEND_MESSAGES = st.one_of(
    st.builds(m.Query, cstr),
    st.builds(m.Parse, cstr, cstr, st.tuples(oid, oid) | st.just(())),
    st.builds(
        m.Bind,
        cstr,
        cstr,
        st.lists(fmt, max_size=3).map(tuple),
        st.lists(value, max_size=3).map(tuple),
        st.lists(fmt, max_size=3).map(tuple),
    ),
    st.builds(m.Describe, st.sampled_from("SP"), cstr),
    st.builds(m.Execute, cstr, st.integers(0, 2**31 - 1)),
    st.builds(m.Close, st.sampled_from("SP"), cstr),
    st.builds(m.Sync),
    st.builds(m.Flush),
    st.builds(m.CopyDone),
    st.builds(m.CopyData, st.binary(max_size=60)),
    st.builds(m.CopyFail, cstr),
    st.builds(
        m.FunctionCall, oid, st.lists(fmt, max_size=3).map(tuple), st.lists(value, max_size=3).map(tuple), fmt
    ),
)

field_code = st.sampled_from("SVCMDHPpqWstcdnFLR")
BACKEND_MESSAGES = st.one_of(
    st.builds(m.AuthenticationOk),
    st.builds(m.AuthenticationMD5Password, st.binary(min_size=4, max_size=4)),
    st.builds(m.AuthenticationSASL, st.lists(cstr.filter(bool), min_size=1, max_size=3).map(tuple)),
    st.builds(m.AuthenticationSASLContinue, st.binary(max_size=40)),
    st.builds(m.AuthenticationSASLFinal, st.binary(max_size=40)),
    st.builds(m.BackendKeyData, i32, i32),
    st.builds(m.CommandComplete, cstr),
    st.builds(m.DataRow, st.lists(value, max_size=5).map(tuple)),
    st.builds(m.ErrorResponse, st.lists(st.tuples(field_code, cstr), max_size=4).map(tuple)),
    st.builds(m.NoticeResponse, st.lists(st.tuples(field_code, cstr), max_size=4).map(tuple)),
    st.builds(m.ParameterStatus, cstr, cstr),
    st.builds(m.ReadyForQuery, st.sampled_from("ITE")),
    st.builds(m.NotificationResponse, i32, cstr, cstr),
    st.builds(m.ParameterDescription, st.lists(oid, max_size=4).map(tuple)),
    st.builds(m.CopyOutResponse, fmt, st.lists(fmt, max_size=4).map(tuple)),
    st.builds(
        m.RowDescription,
        st.lists(
            st.builds(m.FieldDescription, cstr, oid, i16, oid, st.integers(-1, 2**15 - 1), i32, fmt),
            max_size=4,
        ).map(tuple),
    ),
    st.builds(m.FunctionCallResponse, value),
    st.builds(m.CopyData, st.binary(max_size=60)),
)

STARTUP = st.one_of(
    st.builds(m.StartupMessage, st.lists(st.tuples(cstr.filter(bool), cstr), max_size=4).map(tuple)),
    st.builds(m.SSLRequest),
    st.builds(m.GSSENCRequest),
    st.builds(m.CancelRequest, i32, i32),
)


def _split(data: bytes) -> tuple[bytes, bytes]:
    return data[:1], data[5:]


@SETTINGS
@given(FRONTEND_MESSAGES)
def test_frontend_message_round_trips(msg: m.Message) -> None:
    data = msg.encode()
    decoded = m.decode_frontend(*_split(data))
    assert decoded == msg
    assert decoded.encode() == data


@SETTINGS
@given(BACKEND_MESSAGES)
def test_backend_message_round_trips(msg: m.Message) -> None:
    data = msg.encode()
    decoded = m.decode_backend(*_split(data))
    assert decoded == msg
    assert decoded.encode() == data


@SETTINGS
@given(STARTUP)
def test_startup_packet_round_trips(msg: m.StartupPacket) -> None:
    data = msg.encode()
    decoded = m.decode_startup(data[4:])
    assert decoded == msg
    assert decoded.encode() == data


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, byte) edits: 0 = overwrite, 1 = insert, 2 = delete."""
    buf = bytearray(data)
    for kind, pos, byte in edits:
        if not buf:
            buf.append(byte)
            continue
        pos %= len(buf)
        if kind == 0:
            buf[pos] = byte
        elif kind == 1:
            buf.insert(pos, byte)
        else:
            del buf[pos]
    return bytes(buf)


EDITS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6
)


def _drain(conn: Connection, data: bytes, chunk: int) -> list[m.Message]:
    """Feed ``data`` in ``chunk``-sized pieces, then EOF; typed errors end the stream."""
    out: list[m.Message] = []
    try:
        for i in range(0, len(data), chunk):
            conn.receive_data(data[i : i + chunk])
            while not isinstance(event := conn.next_event(), Sentinel):
                out.append(event)
        conn.receive_data(b"")
        while not isinstance(event := conn.next_event(), Sentinel):
            out.append(event)
    except ProtocolError:
        pass
    return out


@SETTINGS
@given(STARTUP, st.lists(FRONTEND_MESSAGES, max_size=4), EDITS, st.integers(1, 9))
def test_mutated_client_stream_raises_only_typed_errors(
    startup: m.StartupPacket, msgs: list[m.Message], edits: list[tuple[int, int, int]], chunk: int
) -> None:
    # veil's BACKEND role decodes what clients send, from the very first (untrusted) byte
    stream = startup.encode() + m.PasswordMessage("pw").encode() + b"".join(x.encode() for x in msgs)
    _drain(Connection(Role.BACKEND), _mutate(stream, edits), chunk)


@SETTINGS
@given(st.lists(BACKEND_MESSAGES, max_size=5), EDITS, st.integers(1, 9))
def test_mutated_server_stream_raises_only_typed_errors(
    msgs: list[m.Message], edits: list[tuple[int, int, int]], chunk: int
) -> None:
    conn = Connection(Role.FRONTEND)
    conn.send(m.StartupMessage((("user", "u"),)))
    stream = m.AuthenticationOk().encode() + b"".join(x.encode() for x in msgs)
    _drain(conn, _mutate(stream, edits), chunk)


@SETTINGS
@given(st.sampled_from(sorted(m.FRONTEND)), st.binary(max_size=80))
def test_any_frontend_body_decodes_or_raises_typed(code: bytes, body: bytes) -> None:
    try:
        decoded = m.decode_frontend(code, body)
    except ProtocolError:
        return
    assert decoded.encode()[:1] == code


@SETTINGS
@given(st.sampled_from(sorted([*m.BACKEND, b"R"])), st.binary(max_size=80))
def test_any_backend_body_decodes_or_raises_typed(code: bytes, body: bytes) -> None:
    try:
        decoded = m.decode_backend(code, body)
    except ProtocolError:
        return
    assert decoded.encode()[:1] == code


@SETTINGS
@given(st.binary(max_size=200), st.integers(1, 9))
def test_random_first_packet_raises_only_typed_errors(data: bytes, chunk: int) -> None:
    _drain(Connection(Role.BACKEND), data, chunk)
    _drain(Connection(Role.BACKEND), b"\x00\x00\x00\x08\x04\xd2\x16\x2f" + data, chunk)  # after SSLRequest


@pytest.mark.parametrize("target", ["wire_frontend", "wire_backend"])
def test_fuzz_corpus_replays_clean(target: str) -> None:
    """Every kept input of the atheris campaign (seeds, coverage corpus, former crashes) stays clean."""
    from bench.fuzz import CORPUS, _build

    run = _build(target)
    files = sorted((CORPUS / target).glob("*"))
    assert files, f"no corpus for {target}"
    for path in files:
        run(path.read_bytes())
