"""Logging in to the upstream PostgreSQL with veil's own credentials.

Supports what servers ask for in practice: trust, cleartext password, md5 and
SCRAM-SHA-256 (via scramp), over TLS as ``sslmode`` demands.  The result is an
``UpstreamSession``: the open channel plus what the server said during startup
(ParameterStatus messages, its BackendKeyData for cancels, the first ReadyForQuery).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field

import scramp

from veil.errors import RemoteProtocolError, UpstreamError
from veil.upstream.channel import ChannelClosed, MessageChannel
from veil.upstream.target import UpstreamTarget
from veil.wire.pg import messages as m

log = logging.getLogger("veil.upstream")

_NEEDS_PASSWORD = (m.AuthenticationCleartextPassword, m.AuthenticationMD5Password, m.AuthenticationSASL)


@dataclass
class UpstreamSession:
    """An upstream connection after a successful startup, ready to relay."""

    channel: MessageChannel
    process_id: int
    secret_key: int
    status: str  # transaction status of the first ReadyForQuery
    parameters: list[m.ParameterStatus] = field(default_factory=list)
    notices: list[m.NoticeResponse] = field(default_factory=list)
    tls: bool = False


class UpstreamLoginError(UpstreamError):
    """The upstream refused the login; ``error`` is its ErrorResponse (forwarded to the client)."""

    def __init__(self, error: m.ErrorResponse) -> None:
        self.error = error
        self.sqlstate = error.sqlstate or "08006"
        super().__init__(f"upstream refused the session (SQLSTATE {self.sqlstate})")


async def open_upstream(target: UpstreamTarget, parameters: dict[str, str]) -> UpstreamSession:
    """Connect, negotiate TLS, authenticate and wait for ReadyForQuery.

    ``parameters`` are the startup parameters besides ``user`` (database, client
    settings).  Raises ``UpstreamError`` (SQLSTATE 08006) when the server cannot be
    reached and ``UpstreamLoginError`` when it refuses.
    """
    loop = asyncio.get_running_loop()
    try:
        _, channel = await asyncio.wait_for(
            loop.create_connection(MessageChannel, target.host, target.port), target.connect_timeout)
    except (OSError, TimeoutError) as exc:
        raise UpstreamError(f"could not connect to the upstream database at {target.host}:{target.port}"
                            f" ({type(exc).__name__})") from exc
    try:
        return await asyncio.wait_for(_startup(channel, target, parameters), target.connect_timeout)
    except BaseException as exc:
        channel.abort()
        if isinstance(exc, UpstreamError):
            raise
        if isinstance(exc, ChannelClosed | TimeoutError | OSError | RemoteProtocolError):
            raise UpstreamError(f"the upstream database closed the connection during login "
                                f"({type(exc).__name__})") from exc
        raise


async def _startup(channel: MessageChannel, target: UpstreamTarget,
                   parameters: dict[str, str]) -> UpstreamSession:
    tls = False
    ctx = target.ssl_context()
    if ctx is not None:
        channel.write(m.SSLRequest().encode())
        channel.framer.expect_single_byte = True
        answer, _ = await channel.read_frame()
        if answer == b"S":
            await channel.start_tls(ctx, server_side=False,
                                    server_hostname=target.host if target.sslmode == "verify-full" else None)
            tls = True
        elif target.tls_required:
            raise UpstreamError("the upstream database does not accept TLS but sslmode requires it")
    params = {"database": target.dbname, **dict(target.options), **parameters, "user": target.user}
    channel.write(m.StartupMessage(tuple(params.items())).encode())
    await _authenticate(channel, target)
    session = UpstreamSession(channel, 0, 0, "I", tls=tls)
    while True:
        type_code, body = await channel.read_frame()
        msg = m.decode_backend(type_code, body)
        if isinstance(msg, m.ParameterStatus):
            session.parameters.append(msg)
        elif isinstance(msg, m.BackendKeyData):
            session.process_id, session.secret_key = msg.process_id, msg.secret_key
        elif isinstance(msg, m.NoticeResponse):
            session.notices.append(msg)
        elif isinstance(msg, m.ReadyForQuery):
            session.status = msg.status
            return session
        elif isinstance(msg, m.ErrorResponse):
            raise UpstreamLoginError(msg)
        elif not isinstance(msg, m.NegotiateProtocolVersion):
            raise RemoteProtocolError(f"unexpected {type(msg).__name__} during upstream startup")


async def _authenticate(channel: MessageChannel, target: UpstreamTarget) -> None:
    scram: scramp.ScramClient | None = None
    while True:
        type_code, body = await channel.read_frame()
        msg = m.decode_backend(type_code, body)
        if isinstance(msg, m.AuthenticationOk):
            return
        if isinstance(msg, m.ErrorResponse):
            raise UpstreamLoginError(msg)
        if isinstance(msg, m.NegotiateProtocolVersion | m.NoticeResponse):
            continue
        password = target.password
        if isinstance(msg, _NEEDS_PASSWORD) and password is None:
            raise UpstreamError("the upstream database asks for a password but the DSN has none")
        if isinstance(msg, m.AuthenticationCleartextPassword):
            channel.write(m.PasswordMessage(password or "").encode())
        elif isinstance(msg, m.AuthenticationMD5Password):
            channel.write(m.PasswordMessage(md5_password(target.user, password or "", msg.salt)).encode())
        elif isinstance(msg, m.AuthenticationSASL):
            if "SCRAM-SHA-256" not in msg.mechanisms:
                raise UpstreamError("the upstream database offers no supported SASL mechanism")
            scram = scramp.ScramClient(["SCRAM-SHA-256"], target.user, password or "")
            first = scram.get_client_first().encode()
            channel.write(m.SASLInitialResponse("SCRAM-SHA-256", first).encode())
        elif isinstance(msg, m.AuthenticationSASLContinue) and scram is not None:
            scram.set_server_first(msg.data.decode())
            channel.write(m.SASLResponse(scram.get_client_final().encode()).encode())
        elif isinstance(msg, m.AuthenticationSASLFinal) and scram is not None:
            try:
                scram.set_server_final(msg.data.decode())
            except scramp.ScramException as exc:
                raise UpstreamError("the upstream database failed SCRAM server verification") from exc
        else:
            raise UpstreamError(f"unsupported upstream authentication request {type(msg).__name__}")


def md5_password(user: str, password: str, salt: bytes) -> str:
    """PostgreSQL's md5 scheme: ``"md5" + md5(md5(password + user).hex + salt).hex``."""
    inner = hashlib.md5((password + user).encode()).hexdigest().encode()
    return "md5" + hashlib.md5(inner + salt).hexdigest()


async def send_cancel(target: UpstreamTarget, process_id: int, secret_key: int) -> None:
    """Deliver a CancelRequest for an upstream backend on a fresh connection (best effort)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port),
                                           target.connect_timeout)
    except (OSError, TimeoutError) as exc:
        log.warning("veil: could not deliver a cancel request upstream (%s)", type(exc).__name__)
        return
    try:
        writer.write(m.CancelRequest(process_id, secret_key).encode())
        await writer.drain()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
