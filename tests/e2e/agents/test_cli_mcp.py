"""``veil mcp`` as a command: help, exit codes, and stdout kept for the protocol."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from tests.support.proxy import url_dsn

from veil.cli.keys import generate_keys


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "veil", *args], env={**os.environ, **env}, cwd=cwd,
                          input="", capture_output=True, text=True, timeout=60)


def config(tmp_path: Path, dsn: str) -> Path:
    keys = generate_keys(tmp_path / "keys")
    path = tmp_path / "veil.yaml"
    path.write_text(yaml.safe_dump({
        "upstream": {"postgres": url_dsn(dsn)},
        "keys": {"masking": f"file:{keys['masking.key']}", "audit_signing": f"file:{keys['audit.key']}"},
        "identity": {"users": [{"name": "robot", "password": "pw-robot", "kind": "agent"}]},
        "policies": [{"name": "agents", "when": {"kind": "agent"}, "access": "read-only"}],
    }))
    return path


def test_help_has_an_example(tmp_path: Path) -> None:
    out = run(["mcp", "--help"], {}, tmp_path)
    assert out.returncode == 0 and "VEIL_TOKEN" in out.stdout and "Example" in out.stdout


def test_exit_codes(tmp_path: Path, pg_dsn: str) -> None:
    path = config(tmp_path, pg_dsn)
    no_token = run(["mcp", "-c", str(path)], {"VEIL_TOKEN": ""}, tmp_path)
    assert no_token.returncode == 2 and "VEIL_TOKEN" in no_token.stderr
    missing = str(tmp_path / "missing.yaml")
    bad_config = run(["mcp", "-c", missing], {"VEIL_TOKEN": "robot:pw-robot"}, tmp_path)
    assert bad_config.returncode == 2 and "config error" in bad_config.stderr
    bad_token = run(["mcp", "-c", str(path)], {"VEIL_TOKEN": "robot:wrong"}, tmp_path)
    assert bad_token.returncode == 1, bad_token.stderr
    assert 'password authentication failed for user "robot"' in bad_token.stderr
    assert bad_token.stdout == ""  # stdout belongs to the MCP protocol
    served = run(["mcp", "-c", str(path)], {"VEIL_TOKEN": "robot:pw-robot"}, tmp_path)
    assert served.returncode == 0, served.stderr  # stdin closed at once: a clean end
    assert served.stdout == ""
