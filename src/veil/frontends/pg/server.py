"""The PostgreSQL front end: accept, negotiate, log in, open the upstream, relay.

One ``PgFrontend`` per listener.  Each client connection gets a ``MessageChannel``
(asyncio Protocol callbacks, no streams); after the startup exchange the channel and
its own upstream connection are joined by a ``Relay``.  Cancel requests carry the
(pid, secret) veil issued and are routed to that session's upstream backend only.

Failures stay inside their session: a bad packet, a lost upstream or a failed login
ends that one connection with a FATAL ErrorResponse and never the server.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field, replace

from veil.errors import AuthError, PolicyDenied, ProtocolError, UpstreamError, VeilError
from veil.frontends.pg.auth import TLSRequiredError, authenticate
from veil.frontends.pg.exchange import Exchange
from veil.frontends.pg.relay import Relay
from veil.frontends.pg.startup import StartupRequest, read_startup, without_settings
from veil.frontends.pg.tls import ServerTLS
from veil.identity import IdentityProvider
from veil.pipeline.hooks import PassThroughPipeline, Pipeline, Session
from veil.upstream.channel import ChannelClosed, MessageChannel
from veil.upstream.login import UpstreamLoginError, UpstreamSession, open_upstream, send_cancel
from veil.upstream.target import UpstreamTarget
from veil.values import Identity
from veil.wire.pg import messages as m
from veil.wire.pg.framing import DEFAULT_MAX_MESSAGE_SIZE

log = logging.getLogger("veil.pg")

LOGIN_TIMEOUT = 60.0  # PostgreSQL's authentication_timeout
_REPLICATION_OFF = {"", "0", "false", "off", "no"}


@dataclass(frozen=True)
class FrontendConfig:
    """Everything a PgFrontend needs; replaced as a whole on reload (SIGHUP)."""

    upstream: UpstreamTarget
    identity: IdentityProvider
    pipeline: Pipeline = field(default_factory=PassThroughPipeline)
    tls: ServerTLS | None = None
    tls_required: bool = False  # tls.require: refuse a StartupMessage that did not come over TLS
    token_login: bool = False
    max_connections: int = 1000
    max_connections_per_identity: int | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE


@dataclass
class _Client:
    """A logged-in session as the cancel registry and shutdown see it."""

    relay: Relay
    upstream: UpstreamSession
    target: UpstreamTarget
    secret: bytes
    ended: asyncio.Future[str]


class _ClientChannel(MessageChannel):
    def __init__(self, frontend: PgFrontend) -> None:
        super().__init__(startup=True, max_message_size=frontend.config.max_message_size)
        self._frontend = frontend

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._frontend._spawn(self)


class PgFrontend:
    """The PostgreSQL listener (see the module docstring)."""

    def __init__(self, config: FrontendConfig) -> None:
        self.config = config
        self._server: asyncio.Server | None = None
        self._clients: dict[int, _Client] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = 0  # sessions past the global cap check: logging in, opening upstream, or relaying
        self.address: tuple[str, int] | None = None

    # ---------------------------------------------------------------- lifecycle

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ClientChannel(self), host, port,
                                                reuse_address=True)
        sock = self._server.sockets[0].getsockname()
        self.address = (sock[0], sock[1])
        return self.address

    def reconfigure(self, config: FrontendConfig) -> None:
        """New sessions use ``config``; running sessions keep what they logged in with."""
        self.config = config

    @property
    def session_count(self) -> int:
        return len(self._clients)

    async def shutdown(self, grace: float) -> None:
        """Stop accepting; let running statements finish within ``grace`` seconds; close all."""
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace
        while self._clients and time.monotonic() < deadline:
            for client in list(self._clients.values()):
                if not client.relay.exchange.busy:
                    self._terminate(client)
            await asyncio.sleep(0.05)
        for client in list(self._clients.values()):
            self._terminate(client)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)

    def _terminate(self, client: _Client) -> None:
        relay = client.relay
        if not relay.done:
            relay.fatal("57P01", "terminating connection due to administrator command")
            relay.end("shutdown", cancel=False)

    def _spawn(self, channel: _ClientChannel) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(channel))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- one connection

    async def _serve(self, channel: MessageChannel) -> None:
        config = self.config
        peer = channel.transport.get_extra_info("peername") if channel.transport else None
        client_addr = str(peer[0]) if peer else ""
        try:
            await self._session(channel, config, client_addr)
        except ChannelClosed:
            pass
        except ProtocolError as exc:
            self._fatal(channel, "08P01", f"veil: invalid startup packet: {exc}")
        except Exception:
            log.exception("veil: session failed")
            self._fatal(channel, "XX000", "veil: internal error")
        finally:
            channel.close()

    def _fatal(self, channel: MessageChannel, sqlstate: str, message: str) -> None:
        channel.write(m.ErrorResponse.make("FATAL", sqlstate, message).encode())
        channel.close()

    async def _negotiate(self, channel: MessageChannel, config: FrontendConfig) -> m.StartupMessage | None:
        """SSLRequest/GSSENCRequest/CancelRequest until a StartupMessage (None after a cancel)."""
        tls_done = False
        while True:
            _, body = await channel.read_frame()
            try:
                packet = m.decode_startup(body)
            except ProtocolError as exc:
                if "unsupported frontend protocol" in str(exc):
                    self._fatal(channel, "0A000", f"veil: {exc}: veil supports 3.0")
                    return None
                raise
            if isinstance(packet, m.SSLRequest) and not tls_done:
                if config.tls is None:
                    channel.write(b"N")
                    continue
                channel.write(b"S")
                await channel.start_tls(config.tls.context, server_side=True)
                tls_done = True
            elif isinstance(packet, m.GSSENCRequest) and not tls_done:
                channel.write(b"N")
            elif isinstance(packet, m.CancelRequest):
                await self._cancel(packet)
                return None
            elif isinstance(packet, m.StartupMessage):
                channel.framer.startup = False
                return packet
            else:
                raise ProtocolError(f"unexpected {type(packet).__name__}")

    async def _session(self, channel: MessageChannel, config: FrontendConfig, client_addr: str) -> None:
        startup_msg = await asyncio.wait_for(self._negotiate(channel, config), LOGIN_TIMEOUT)
        if startup_msg is None:
            return
        request = read_startup(startup_msg)
        tls = channel.transport is not None and channel.transport.get_extra_info("ssl_object") is not None
        if config.tls_required and not tls:
            log.info("veil: plaintext connection from %s refused (tls.require)", client_addr)
            self._fatal(channel, "28000", "veil: TLS required: this server refuses unencrypted connections "
                                          "(tls.require); connect with sslmode=require or stronger")
            return
        if not request.user:
            self._fatal(channel, "28000", "no PostgreSQL user name specified in startup packet")
            return
        if request.replication is not None and request.replication.lower() not in _REPLICATION_OFF:
            self._fatal(channel, "42501", "veil: the replication protocol is not allowed through veil")
            return
        if self._slots >= config.max_connections:
            log.warning("veil: connection refused: limits.max_connections (%d) reached",
                        config.max_connections)
            self._fatal(channel, "53300", f"sorry, too many clients already "
                                          f"(veil limits.max_connections is {config.max_connections})")
            return
        self._slots += 1  # held from before the login until the session ends: logins in flight count too
        try:
            await self._login_and_run(channel, config, request, tls, client_addr)
        finally:
            self._slots -= 1

    async def _login_and_run(self, channel: MessageChannel, config: FrontendConfig, request: StartupRequest,
                             tls: bool, client_addr: str) -> None:
        if request.needs_negotiation:
            channel.write(request.negotiation().encode())
        try:
            identity = await asyncio.wait_for(authenticate(
                channel, request.user, config.identity,
                end_point_hash=config.tls.end_point_hash if (config.tls and tls) else None,
                tls=tls, client_addr=client_addr, token_login=config.token_login), LOGIN_TIMEOUT)
        except AuthError as exc:
            log.info("veil: login failed from %s (%s)", client_addr, type(exc).__name__)
            claimed = Session(identity=Identity(subject=request.user), frontend="pg", client_addr=client_addr,
                              application_name=request.forwarded.get("application_name", ""), tls=tls)
            try:
                config.pipeline.auth_failed(claimed, type(exc).__name__)
            except Exception as audit_exc:  # the client still gets its FATAL
                log.error("veil: recording a failed login failed: %s", type(audit_exc).__name__)
            message = (exc.client_message if isinstance(exc, TLSRequiredError)
                       else f'password authentication failed for user "{request.user}"')
            self._fatal(channel, exc.sqlstate, message)
            return
        session = Session(identity=identity, frontend="pg", client_addr=client_addr,
                          application_name=request.forwarded.get("application_name", ""),
                          database=request.database or config.upstream.dbname, tls=tls,
                          reason=request.veil.get("veil.reason") or None)
        await self._run_session(channel, config, request, session)

    async def _run_session(self, channel: MessageChannel, config: FrontendConfig,
                           request: StartupRequest, session: Session) -> None:
        pipeline = config.pipeline
        try:
            pipeline.open_session(session)
        except PolicyDenied as exc:
            self._fatal(channel, exc.sqlstate, f"veil: session refused: {exc}")
            return
        started = time.monotonic()
        end_reason = "login-failed"
        limit = config.max_connections_per_identity
        if limit is not None and self._sessions_of(session.identity.subject) >= limit:
            self._fatal(channel, "53300", "veil: too many connections for this identity")
            pipeline.close_session(session)
            return
        try:
            enforced = pipeline.upstream_parameters(session)
            parameters = {**without_settings(request.forwarded, enforced), **enforced}
            target = config.upstream
            if request.database:
                target = replace(target, dbname=request.database)
            try:
                upstream = await open_upstream(target, parameters)
            except UpstreamLoginError as exc:
                if exc.sqlstate.startswith("28"):  # veil's own upstream credentials: an operator problem
                    log.error("veil: the upstream database refused veil's login (SQLSTATE %s)", exc.sqlstate)
                    self._fatal(channel, "08006", "veil: the upstream database refused veil's login")
                    return
                fields = dict(exc.error.fields)
                fields["S"] = fields["V"] = "FATAL"
                channel.write(m.ErrorResponse(tuple(fields.items())).encode())
                return
            except UpstreamError as exc:
                log.warning("veil: upstream unavailable: %s", exc)
                self._fatal(channel, "08006", f"veil: the upstream database is unavailable: {exc}")
                return
            end_reason = await self._relay(channel, config, session, upstream, target, enforced)
        except VeilError as exc:
            self._fatal(channel, getattr(exc, "sqlstate", "XX000"), f"veil: {exc}")
        finally:
            try:
                pipeline.close_session(session)
            except Exception:
                log.exception("veil: close_session failed")
            log.info("veil: session end subject=%s client=%s duration=%.3fs reason=%s",
                     session.identity.subject, session.client_addr, time.monotonic() - started, end_reason)

    async def _relay(self, channel: MessageChannel, config: FrontendConfig, session: Session,
                     upstream: UpstreamSession, target: UpstreamTarget, enforced: dict[str, str]) -> str:
        pid = self._new_pid()
        secret = secrets.randbits(32) - (1 << 31)
        out = [m.AuthenticationOk().encode()]
        out += [p.encode() for p in upstream.parameters]
        out += [n.encode() for n in upstream.notices]
        out.append(m.BackendKeyData(pid, secret).encode())
        out.append(m.ReadyForQuery(upstream.status).encode())
        channel.write(b"".join(out))
        exchange = Exchange(session, config.pipeline, status=upstream.status, upstream_parameters=enforced)
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[str] = loop.create_future()
        relay = Relay(channel, upstream.channel, exchange, on_end=lambda r, why: self._ended(pid, why),
                      max_message_size=config.max_message_size)
        self._clients[pid] = _Client(relay, upstream, target, secret.to_bytes(4, "big", signed=True), ended)
        log.info("veil: session start subject=%s client=%s tls=%s", session.identity.subject,
                 session.client_addr, session.tls)
        relay.start()
        try:
            why = await ended
        finally:
            self._clients.pop(pid, None)
            relay.end("closed", cancel=False)
        if why == "cancel":
            await self._cancel_and_close(target, upstream)
        upstream.channel.close()
        return relay.end_reason

    def _ended(self, pid: int, why: str) -> None:
        client = self._clients.get(pid)
        if client is not None and not client.ended.done():
            client.ended.set_result(why)

    async def _cancel_and_close(self, target: UpstreamTarget, upstream: UpstreamSession) -> None:
        """The client left mid-query: cancel the upstream statement, then drop that connection."""
        try:
            await send_cancel(target, upstream.process_id, upstream.secret_key)
        finally:
            upstream.channel.close()

    def _sessions_of(self, subject: str) -> int:
        return sum(1 for c in self._clients.values() if c.relay.exchange.session.identity.subject == subject)

    def _new_pid(self) -> int:
        while True:
            pid = secrets.randbelow((1 << 31) - 1) + 1
            if pid not in self._clients:
                return pid

    async def _cancel(self, packet: m.CancelRequest) -> None:
        client = self._clients.get(packet.process_id)
        offered = packet.secret_key.to_bytes(4, "big", signed=True)
        if client is None or not hmac.compare_digest(client.secret, offered):
            log.info("veil: cancel request for an unknown session ignored")
            return
        await send_cancel(client.target, client.upstream.process_id, client.upstream.secret_key)
