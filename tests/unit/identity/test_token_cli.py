"""``veil token issue`` end to end: a real subprocess, the token accepted by the provider."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from veil.config import load_config
from veil.identity import IdentityProvider


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "veil", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_issue_prints_an_accepted_token(tmp_path: Path) -> None:
    config = tmp_path / "veil.yaml"
    config.write_text('upstream: {postgres: "postgresql://u@h/db"}\n'
                      "identity:\n  dev_issuer: {key: file:keys/dev-issuer.ed25519}\n")
    result = run("token", "issue", "-c", str(config), "--identity", "bot", "--groups", "a, b",
                 "--kind", "agent", "--ttl", "15m", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "created dev issuer key" in result.stderr
    token = result.stdout.strip()
    who = IdentityProvider(load_config(config).identity).verify_token("bot", token, tls=False,
                                                                      client_addr="127.0.0.1")
    assert (who.groups, who.kind) == (("a", "b"), "agent")
    assert who.expires_at is not None


def test_errors_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "veil.yaml"
    config.write_text('upstream: {postgres: "postgresql://u@h/db"}\n')
    result = run("token", "issue", "-c", str(config), "--identity", "bot", cwd=tmp_path)
    assert result.returncode == 2 and "identity.dev_issuer" in result.stderr
    result = run("token", "issue", "-c", str(config), "--identity", "bot", "--ttl", "soon", cwd=tmp_path)
    assert result.returncode == 2 and "--ttl" in result.stderr
