"""The local dev issuer: key created 0600, tokens accepted by the provider, JWKS served."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from veil.config import parse_config
from veil.errors import KeyError_, TokenError, TokenExpiredError
from veil.identity import IdentityProvider, dev_issuer_jwks, ensure_key, issue_token


def settings(tmp_path: Path, extra: str = "") -> object:
    return parse_config(f"""
upstream: {{postgres: "postgresql://u@h/db"}}
identity:
  dev_issuer: {{key: file:keys/dev-issuer.ed25519}}
{extra}""", base=tmp_path)


def test_issue_and_verify(tmp_path: Path) -> None:
    s = settings(tmp_path)
    dev = s.identity.dev_issuer
    assert dev is not None and dev_issuer_jwks(s) == {"keys": []}
    assert ensure_key(dev) and not ensure_key(dev)
    key_file = tmp_path / "keys" / "dev-issuer.ed25519"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    jwks = dev_issuer_jwks(s)
    assert [k["kty"] for k in jwks["keys"]] == ["OKP"] and "d" not in jwks["keys"][0]
    token = issue_token(dev, identity="agent", groups=["bots"], kind="agent", ttl=60, clock=lambda: 1e9)
    provider = IdentityProvider(s.identity, clock=lambda: 1e9 + 10)
    who = provider.verify_token("agent", token, tls=False, client_addr="127.0.0.1")
    assert (who.subject, who.groups, who.kind, who.source, who.expires_at) == (
        "agent", ("bots",), "agent", "dev", 1e9 + 60)
    late = IdentityProvider(s.identity, clock=lambda: 1e9 + 3600)
    with pytest.raises(TokenExpiredError):
        late.verify_token("agent", token, tls=False, client_addr="127.0.0.1")


def test_foreign_key_is_not_trusted(tmp_path: Path) -> None:
    a, b = settings(tmp_path / "a"), settings(tmp_path / "b")
    assert a.identity.dev_issuer and b.identity.dev_issuer
    ensure_key(a.identity.dev_issuer)
    ensure_key(b.identity.dev_issuer)
    token = issue_token(a.identity.dev_issuer, identity="x", clock=lambda: 1e9)
    with pytest.raises(TokenError):
        IdentityProvider(b.identity, clock=lambda: 1e9).verify_token("x", token, tls=True, client_addr="h")


def test_bad_key_file(tmp_path: Path) -> None:
    s = settings(tmp_path)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "dev-issuer.ed25519").write_text("not a key")
    assert s.identity.dev_issuer is not None
    with pytest.raises(KeyError_):
        issue_token(s.identity.dev_issuer, identity="x", clock=lambda: 1e9)
