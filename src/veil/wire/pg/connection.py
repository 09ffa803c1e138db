"""A sans-IO PostgreSQL connection, h11 style: bytes in, events out, bytes from events.

``Connection(our_role)`` is one end of a conversation.  Feed it what the peer sent
with ``receive_data`` (``b""`` means the peer closed), pull messages with
``next_event`` and turn our own messages into bytes with ``send``.  Both directions
walk the one table in ``phases``; a message out of phase raises
``RemoteProtocolError`` when the peer sent it and ``LocalProtocolError`` when we
tried to.  No I/O, no clock, no asyncio: the proxy and the tests drive it.

It also keeps what a result needs to be understood later: prepared statements (Parse)
and portals (Bind) by name, so a re-executed statement's shape is known.
"""

from __future__ import annotations

from enum import Enum

from veil.errors import LocalProtocolError, RemoteProtocolError
from veil.wire.pg import messages as m
from veil.wire.pg.framing import DEFAULT_MAX_MESSAGE_SIZE, Framer
from veil.wire.pg.phases import Phase, Role, next_phase


class Sentinel(Enum):
    NEED_DATA = "need-data"
    CLOSED = "closed"


NEED_DATA = Sentinel.NEED_DATA
CLOSED = Sentinel.CLOSED


class Connection:
    """One end of a PostgreSQL conversation (see the module docstring)."""

    def __init__(self, our_role: Role, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.our_role = our_role
        self.their_role = Role.BACKEND if our_role is Role.FRONTEND else Role.FRONTEND
        self.phase = Phase.STARTUP
        self._framer = Framer(max_message_size=max_message_size, startup=our_role is Role.BACKEND)
        self._eof = False
        self._sasl_started = False  # which 'p' message comes next
        self._auth_request: type[m.Authentication] | None = None
        self.statements: dict[str, m.Parse] = {}
        self.portals: dict[str, m.Bind] = {}

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes) -> None:
        if self._eof and data:
            raise RemoteProtocolError("data after end of stream")
        if not data:
            self._eof = True
        self._framer.feed(data)

    def next_event(self) -> m.Message | Sentinel:
        """The next message from the peer, NEED_DATA, or CLOSED once the stream ended."""
        if self.phase is Phase.CLOSED:
            return CLOSED
        frame = self._framer.next_frame()
        if frame is None:
            if self._eof:
                if self._framer.buffer:
                    raise RemoteProtocolError("connection closed in the middle of a message")
                self.phase = Phase.CLOSED
                return CLOSED
            return NEED_DATA
        type_code, body = frame
        msg = self._decode(type_code, body)
        self._advance(self.their_role, msg, RemoteProtocolError)
        return msg

    def _decode(self, type_code: bytes, body: bytes) -> m.Message:
        if self.phase is Phase.ENCRYPTION and self.our_role is Role.FRONTEND:
            if type_code not in (b"S", b"N"):
                raise RemoteProtocolError("invalid answer to an encryption request")
            return m.SSLResponse(type_code == b"S")
        if type_code == b"":
            return m.decode_startup(body)
        if self.our_role is Role.FRONTEND:
            return m.decode_backend(type_code, body)
        if type_code == b"p":
            return self._decode_password(body)
        return m.decode_frontend(type_code, body)

    def _decode_password(self, body: bytes) -> m.Message:
        if self._auth_request in (m.AuthenticationSASL, m.AuthenticationSASLContinue):
            if not self._sasl_started:
                self._sasl_started = True
                return m.SASLInitialResponse.decode(body)
            return m.SASLResponse.decode(body)
        return m.PasswordMessage.decode(body)

    # ------------------------------------------------------------------ sending

    def send(self, msg: m.Message) -> bytes:
        """The bytes for ``msg``; raises LocalProtocolError if it may not be sent now."""
        data = msg.encode()
        self._advance(self.our_role, msg, LocalProtocolError)
        return data

    # ------------------------------------------------------------------ shared

    def _advance(self, sender: Role, msg: m.Message, error: type[Exception]) -> None:
        name = type(msg).__name__
        new = next_phase(self.phase, sender, name)
        if new is None:
            raise error(f"{sender.value} may not send {name} in phase {self.phase.value}")
        self.phase = new
        if isinstance(msg, m.Authentication):
            self._auth_request = type(msg)
        elif isinstance(msg, m.SSLRequest | m.GSSENCRequest) and self.our_role is Role.FRONTEND:
            self._framer.expect_single_byte = True
        self._framer.startup = self.our_role is Role.BACKEND and new in (Phase.STARTUP, Phase.ENCRYPTION)
        self._track(msg)

    def _track(self, msg: m.Message) -> None:
        if isinstance(msg, m.Parse):
            self.statements[msg.name] = msg
        elif isinstance(msg, m.Bind):
            self.portals[msg.portal] = msg
        elif isinstance(msg, m.Close):
            (self.statements if msg.kind == "S" else self.portals).pop(msg.name, None)
        elif isinstance(msg, m.ReadyForQuery) and msg.status == "I":
            # portals live until the end of the transaction; unnamed ones until the next Bind
            self.portals.clear()
