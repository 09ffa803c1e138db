"""Authentication terminated at veil.

Static users log in with SCRAM-SHA-256 (and -PLUS over TLS, bound to veil's own
certificate); everyone else, when token login is configured, sends a JWT as a
cleartext password, accepted only over TLS or from a loopback address.  Unknown
users go through the same SCRAM exchange with deterministic fake credentials from
the identity provider, so failures look and take the same for a wrong password and
a user that does not exist.
"""

from __future__ import annotations

import asyncio

import scramp

from veil.errors import AuthError, RemoteProtocolError
from veil.identity import IdentityProvider, ScramCredentials, is_loopback
from veil.upstream.channel import MessageChannel
from veil.values import Identity
from veil.wire.pg import messages as m


class TLSRequiredError(AuthError):
    """A token login without TLS from a non-loopback peer: FATAL 28000 with a message saying so.

    Unlike a bad credential this is not vague: nothing was checked yet, and the client
    needs to know that the fix is ``sslmode=require``, not another password.
    """

    sqlstate = "28000"
    client_message = ("veil: token login requires TLS when connecting from a non-loopback address; "
                      "connect with sslmode=require or stronger")


async def authenticate(channel: MessageChannel, username: str, identity: IdentityProvider, *,
                       end_point_hash: bytes | None, tls: bool, client_addr: str,
                       token_login: bool) -> Identity:
    """Run the login exchange with the client; the Identity, or AuthError after backoff."""
    delay = identity.backoff_seconds(username, client_addr)
    if delay > 0:
        await asyncio.sleep(delay)
    credentials = identity.scram_credentials(username)
    try:
        if not credentials.known and token_login:
            result = await _token_login(channel, username, identity, tls=tls, client_addr=client_addr)
        else:
            result = await _scram_login(channel, username, identity, credentials, end_point_hash)
    except AuthError:
        identity.record_failure(username, client_addr)
        raise
    identity.record_success(username, client_addr)
    return result


async def _read_password(channel: MessageChannel) -> bytes:
    type_code, body = await channel.read_frame()
    if type_code != b"p":
        raise RemoteProtocolError("expected a password message")
    return body


async def _token_login(channel: MessageChannel, username: str, identity: IdentityProvider, *,
                       tls: bool, client_addr: str) -> Identity:
    if not (tls or is_loopback(client_addr)):
        raise TLSRequiredError("token login requires TLS")
    channel.write(m.AuthenticationCleartextPassword().encode())
    token = m.PasswordMessage.decode(await _read_password(channel)).password
    return identity.verify_token(username, token, tls=tls, client_addr=client_addr)


async def _scram_login(channel: MessageChannel, username: str, identity: IdentityProvider,
                       credentials: ScramCredentials, end_point_hash: bytes | None) -> Identity:
    mechanisms = ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256") if end_point_hash else ("SCRAM-SHA-256",)
    channel.write(m.AuthenticationSASL(mechanisms).encode())
    initial = m.SASLInitialResponse.decode(await _read_password(channel))
    if initial.mechanism not in mechanisms or initial.data is None:
        raise AuthError("unsupported SASL mechanism")
    binding = ("tls-server-end-point", end_point_hash) if initial.mechanism.endswith("-PLUS") else None
    server = scramp.ScramMechanism(initial.mechanism).make_server(
        lambda _name: (credentials.salt, credentials.stored_key, credentials.server_key,
                       credentials.iterations),
        channel_binding=binding)
    try:
        _set_client_first(server, initial.data.decode("utf-8"), username)
        channel.write(m.AuthenticationSASLContinue(server.get_server_first().encode()).encode())
        final = m.SASLResponse.decode(await _read_password(channel))
        server.set_client_final(final.data.decode("utf-8"))
    except (scramp.ScramException, UnicodeDecodeError) as exc:
        raise AuthError("SCRAM authentication failed") from exc
    if not credentials.known:
        raise AuthError("SCRAM authentication failed")
    channel.write(m.AuthenticationSASLFinal(server.get_server_final().encode()).encode())
    return identity.static_identity(username)


def _set_client_first(server: scramp.ScramServer, client_first: str, username: str) -> None:
    """Feed client-first to scramp, which insists on a SCRAM user name.

    PostgreSQL clients send an empty one (``n=,``): the startup packet's user counts.
    scramp parses a copy carrying a placeholder name; the signed client-first-bare is
    then put back exactly as the client sent it, so the proof is checked over the
    real bytes.
    """
    header_end = client_first.find(",", client_first.find(",") + 1) + 1
    bare = client_first[header_end:]
    if bare.startswith("n=,"):
        server.set_client_first(client_first[:header_end] + "n=*," + bare[3:])
        server.client_first_bare = bare
    else:
        server.set_client_first(client_first)
