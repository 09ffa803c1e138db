"""The sans-IO Connection: a whole conversation, phases, and typed errors for junk."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import LocalProtocolError, RemoteProtocolError
from veil.wire.pg import messages as m
from veil.wire.pg.connection import CLOSED, NEED_DATA, Connection
from veil.wire.pg.phases import Phase, Role


def pump(sender: Connection, receiver: Connection, msg: m.Message, *, bytewise: bool = False) -> m.Message:
    data = sender.send(msg)
    if bytewise:
        event: object = NEED_DATA
        for i in range(len(data)):
            receiver.receive_data(data[i : i + 1])
            event = receiver.next_event()
            if i < len(data) - 1:
                assert event is NEED_DATA
    else:
        receiver.receive_data(data)
        event = receiver.next_event()
    assert event == msg
    assert isinstance(event, m.Message)
    return event


@pytest.mark.parametrize("bytewise", [False, True])
def test_full_conversation(bytewise: bool) -> None:
    client, server = Connection(Role.FRONTEND), Connection(Role.BACKEND)

    def c2s(msg: m.Message) -> None:
        pump(client, server, msg, bytewise=bytewise)

    def s2c(msg: m.Message) -> None:
        pump(server, client, msg, bytewise=bytewise)

    c2s(m.SSLRequest())
    s2c(m.SSLResponse(False))
    c2s(m.StartupMessage((("user", "u"),)))
    s2c(m.AuthenticationSASL(("SCRAM-SHA-256",)))
    c2s(m.SASLInitialResponse("SCRAM-SHA-256", b"n,,n=,r=x"))
    s2c(m.AuthenticationSASLContinue(b"r=xy,s=AA==,i=4096"))
    c2s(m.SASLResponse(b"c=biws,r=xy,p=AA=="))
    s2c(m.AuthenticationSASLFinal(b"v=AA=="))
    s2c(m.AuthenticationOk())
    s2c(m.ParameterStatus("server_version", "16"))
    s2c(m.BackendKeyData(1, 2))
    s2c(m.ReadyForQuery("I"))
    assert client.phase is Phase.READY
    c2s(m.Parse("s", "SELECT $1", ()))
    c2s(m.Bind("", "s"))
    c2s(m.Execute(""))
    c2s(m.Sync())
    assert set(client.statements) == {"s"} and "" in client.portals
    s2c(m.ParseComplete())
    s2c(m.BindComplete())
    s2c(m.NotificationResponse(1, "c", "p"))
    s2c(m.DataRow((b"1",)))
    s2c(m.CommandComplete("SELECT 1"))
    s2c(m.ReadyForQuery("I"))
    c2s(m.Query("COPY t TO STDOUT"))
    s2c(m.CopyOutResponse(0, (0,)))
    assert server.phase is Phase.COPY_OUT
    s2c(m.CopyData(b"1\n"))
    s2c(m.CopyDone())
    s2c(m.CommandComplete("COPY 1"))
    s2c(m.ReadyForQuery("I"))
    c2s(m.Query("COPY t FROM STDIN"))
    s2c(m.CopyInResponse(0, (0,)))
    c2s(m.CopyData(b"2\n"))
    c2s(m.CopyDone())
    s2c(m.CommandComplete("COPY 1"))
    s2c(m.ReadyForQuery("I"))
    c2s(m.Close("S", "s"))
    assert client.statements == {}
    c2s(m.Terminate())
    assert server.phase is Phase.CLOSED
    assert server.next_event() is CLOSED


def test_out_of_phase_messages_blame_the_right_side() -> None:
    client, server = Connection(Role.FRONTEND), Connection(Role.BACKEND)
    with pytest.raises(LocalProtocolError):
        client.send(m.Query("SELECT 1"))  # before startup
    server.receive_data(m.StartupMessage((("user", "u"),)).encode())
    server.next_event()
    server.receive_data(m.Query("SELECT 1").encode())
    with pytest.raises(RemoteProtocolError):
        server.next_event()  # a query during authentication


def test_eof_mid_message_is_a_remote_error() -> None:
    server = Connection(Role.BACKEND)
    server.receive_data(m.StartupMessage((("user", "u"),)).encode()[:6])
    assert server.next_event() is NEED_DATA
    server.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        server.next_event()


def test_clean_eof_is_closed() -> None:
    server = Connection(Role.BACKEND)
    server.receive_data(b"")
    assert server.next_event() is CLOSED


def test_invalid_ssl_answer() -> None:
    client = Connection(Role.FRONTEND)
    client.send(m.SSLRequest())
    client.receive_data(b"X")
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def _drain(conn: Connection, data: bytes) -> None:
    conn.receive_data(data)
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is CLOSED:
            return


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_to_a_server_only_raise_protocol_errors(data: bytes) -> None:
    try:
        _drain(Connection(Role.BACKEND), data)
    except RemoteProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_after_login_only_raise_protocol_errors(data: bytes) -> None:
    server = Connection(Role.BACKEND)
    server.receive_data(m.StartupMessage((("user", "u"),)).encode())
    server.next_event()
    server.phase = Phase.READY
    try:
        _drain(server, data)
    except RemoteProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"T", b"D", b"E", b"R", b"Z", b"C", b"A", b"v", b"t", b"G"]), st.binary(max_size=64))
def test_random_backend_bodies_only_raise_protocol_errors(type_code: bytes, body: bytes) -> None:
    try:
        msg = m.decode_backend(type_code, body)
    except RemoteProtocolError:
        return
    assert msg.encode()[5:] == body
