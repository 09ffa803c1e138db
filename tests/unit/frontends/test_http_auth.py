"""HTTP credentials: header parsing, token names, the provider's verdict, backoff bookkeeping."""

from __future__ import annotations

import base64
import time

import pytest
from starlette.datastructures import Headers

from veil.config import Settings
from veil.errors import AuthError
from veil.frontends.http.auth import HttpAuthenticator, parse_authorization
from veil.frontends.mcp.credentials import token_username
from veil.frontends.mcp.stdio import identity_from_token, mcp_client_config
from veil.identity import IdentityProvider, issue_token


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_parse_authorization() -> None:
    assert parse_authorization(f"Basic {b64('robot:pa:ss')}") == ("basic", "robot", "pa:ss")
    assert parse_authorization(f"basic {b64('robot:')}") == ("basic", "robot", "")
    for bad in ("Basic", "Basic !!!", f"Basic {b64('nocolon')}", f"Basic {b64(':pw')}", "Token x",
                "Bearer abc", "Bearer a.b.c"):
        with pytest.raises(AuthError):
            parse_authorization(bad)


def test_token_username_prefers_sub() -> None:
    def tok(claims: str) -> str:
        body = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
        return f"eyJhbGciOiJFZERTQSJ9.{body}.sig"

    assert token_username(tok('{"sub": "ann", "preferred_username": "a"}')) == "ann"
    assert token_username(tok('{"preferred_username": "a"}')) == "a"
    for claims in ('{"sub": 5}', "[1]", "{}"):
        with pytest.raises(AuthError):
            token_username(tok(claims))


async def test_authenticator_uses_the_provider(provider: IdentityProvider, agent_token: str) -> None:
    auth = HttpAuthenticator(provider)
    who = await auth.authenticate(Headers({"authorization": f"Bearer {agent_token}"}),
                                  client_addr="127.0.0.1", tls=False)
    assert (who.subject, who.kind, who.source) == ("claude", "agent", "dev")
    static = await auth.authenticate(Headers({"authorization": f"Basic {b64('alice:s3cret-alice')}"}),
                                     client_addr="127.0.0.1", tls=False)
    assert (static.subject, static.kind) == ("alice", "human")
    with pytest.raises(AuthError, match="invalid credentials"):  # tokens need TLS off loopback
        await auth.authenticate(Headers({"authorization": f"Bearer {agent_token}"}),
                                client_addr="203.0.113.9", tls=False)
    with pytest.raises(AuthError, match="missing credentials"):
        await auth.authenticate(Headers({}), client_addr="127.0.0.1", tls=False)


async def test_failures_feed_the_backoff(provider: IdentityProvider) -> None:
    auth = HttpAuthenticator(provider)
    wrong = Headers({"authorization": f"Basic {b64('alice:wrong')}"})
    for _ in range(5):
        with pytest.raises(AuthError):
            await auth.authenticate(wrong, client_addr="10.0.0.7", tls=False)
    assert provider.backoff_seconds("alice", "10.0.0.7") > 0
    assert provider.backoff_seconds("alice", "10.0.0.8") == 0


def test_identity_from_token(provider: IdentityProvider, identity_settings: Settings) -> None:
    assert identity_from_token("robot:s3cret-robot", provider).kind == "agent"
    dev = identity_settings.identity.dev_issuer
    assert dev is not None
    expired = issue_token(dev, identity="claude", kind="agent", ttl=-3600, clock=time.time)
    for bad in ("", "robot:nope", "justaname", expired):
        with pytest.raises(AuthError):
            identity_from_token(bad, provider)


def test_mcp_client_config_points_at_veil_mcp(tmp_path: object) -> None:
    cfg = mcp_client_config("veil.yaml", "robot:pw")
    entry = cfg["mcpServers"]["veil"]
    assert entry["command"].endswith("veil")
    assert entry["args"][:2] == ["mcp", "-c"] and entry["args"][2].endswith("/veil.yaml")
    assert entry["env"] == {"VEIL_TOKEN": "robot:pw"}
