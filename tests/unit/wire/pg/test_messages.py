"""Every message encodes to the documented bytes and decodes back to itself."""

from __future__ import annotations

import pytest
from tests.unit.wire.pg.vectors import BACKEND, FRONTEND, KNOWN_BYTES, SASL_FRONTEND, STARTUP

from veil.errors import LocalProtocolError, RemoteProtocolError
from veil.wire.pg import messages as m


@pytest.mark.parametrize("msg", STARTUP, ids=lambda x: type(x).__name__)
def test_startup_round_trip(msg: m.StartupPacket) -> None:
    data = msg.encode()
    assert int.from_bytes(data[:4], "big") == len(data)
    decoded = m.decode_startup(data[4:])
    assert decoded == msg
    assert decoded.encode() == data


@pytest.mark.parametrize("msg", FRONTEND, ids=lambda x: type(x).__name__)
def test_frontend_round_trip(msg: m.Message) -> None:
    data = msg.encode()
    assert data[:1] == msg.TYPE and int.from_bytes(data[1:5], "big") == len(data) - 1
    decoded = m.decode_frontend(data[:1], data[5:])
    assert decoded == msg and decoded.encode() == data


@pytest.mark.parametrize("msg", SASL_FRONTEND, ids=lambda x: type(x).__name__)
def test_sasl_round_trip(msg: m.Message) -> None:
    data = msg.encode()
    assert type(msg).decode(data[5:]) == msg


@pytest.mark.parametrize("msg", BACKEND, ids=lambda x: type(x).__name__)
def test_backend_round_trip(msg: m.Message) -> None:
    data = msg.encode()
    decoded = m.decode_backend(data[:1], data[5:])
    assert decoded == msg and decoded.encode() == data


@pytest.mark.parametrize(("msg", "data"), KNOWN_BYTES, ids=lambda x: type(x).__name__)
def test_documented_bytes(msg: m.Message, data: bytes) -> None:
    assert msg.encode() == data


# bodies that end in a free-form byte string own every trailing byte
FREE_FORM = (m.CopyData, m.AuthenticationGSSContinue, m.AuthenticationSASLContinue, m.AuthenticationSASLFinal)


@pytest.mark.parametrize("msg", [x for x in FRONTEND + BACKEND if not isinstance(x, FREE_FORM)],
                         ids=lambda x: type(x).__name__)
def test_trailing_bytes_are_malformed(msg: m.Message) -> None:
    body = msg.encode()[5:] + b"\x00junk"
    with pytest.raises(RemoteProtocolError):
        if msg in FRONTEND:
            m.decode_frontend(msg.TYPE, body)
        else:
            m.decode_backend(msg.TYPE, body)


@pytest.mark.parametrize("msg", [x for x in FRONTEND + BACKEND if len(x.encode()) > 5],
                         ids=lambda x: type(x).__name__)
def test_truncated_bodies_are_malformed(msg: m.Message) -> None:
    body = msg.encode()[5:]
    decode = m.decode_frontend if msg in FRONTEND else m.decode_backend
    for cut in range(len(body)):
        try:
            decoded = decode(msg.TYPE, body[:cut])
        except RemoteProtocolError:
            continue
        # a few bodies end in a free-form byte string: a shorter one is a different valid message
        assert decoded != msg


def test_invalid_utf8_round_trips_byte_for_byte() -> None:
    data = b"Q\x00\x00\x00\x08\xff\xfe\x80\x00"
    assert m.decode_frontend(b"Q", data[5:]).encode() == data


def test_protocol_3_2_is_parsed_for_negotiation() -> None:
    msg = m.decode_startup(m.StartupMessage((("user", "u"),), protocol=(3 << 16) | 2).encode()[4:])
    assert isinstance(msg, m.StartupMessage) and msg.protocol & 0xFFFF == 2


@pytest.mark.parametrize("version", [(2 << 16), (4 << 16), 1234])
def test_unsupported_protocol_versions_are_refused(version: int) -> None:
    with pytest.raises(RemoteProtocolError, match="unsupported frontend protocol"):
        m.decode_startup(version.to_bytes(4, "big") + b"user\x00u\x00\x00")


def test_unknown_types_are_remote_errors() -> None:
    with pytest.raises(RemoteProtocolError):
        m.decode_frontend(b"!", b"")
    with pytest.raises(RemoteProtocolError):
        m.decode_backend(b"!", b"")
    with pytest.raises(RemoteProtocolError):
        m.decode_backend(b"R", (99).to_bytes(4, "big"))


def test_nul_in_a_string_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        m.Query("SELECT '\x00'").encode()


def test_bind_result_format_rules() -> None:
    assert m.Bind("", "").result_format(3) == 0
    assert m.Bind("", "", result_formats=(1,)).result_format(3) == 1
    assert m.Bind("", "", result_formats=(0, 1)).result_format(1) == 1


def test_command_complete_row_counts() -> None:
    assert m.CommandComplete("SELECT 12").rows() == 12
    assert m.CommandComplete("INSERT 0 3").rows() == 3
    assert m.CommandComplete("CREATE TABLE").rows() == 0


def test_error_fields_accessors() -> None:
    err = m.ErrorResponse.make("FATAL", "08006", "gone")
    assert (err.sqlstate, err.severity, err.get("M")) == ("08006", "FATAL", "gone")
