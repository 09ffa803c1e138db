"""``veil policy check`` / ``veil policy explain`` as a user runs them (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """\
upstream: {postgres: "postgresql://u@h/db"}
identity:
  users:
    - {name: agent, password: x, kind: agent}
policies:
  - name: ai-agents
    when: {kind: agent}
    access: read-only
    require_reason: true
    mask: {default: pseudonymize, credit_card: partial}
    tables: {allow: ["public.*"], deny: ["public.api_credentials"]}
columns:
  public.customers.notes: none
"""


def veil(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "veil", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "veil.yaml"
    path.write_text(CONFIG)
    return path


def test_check_ok_and_error_with_line(config: Path) -> None:
    ok = veil("policy", "check", "-c", str(config), cwd=config.parent)
    assert ok.returncode == 0 and "ok (1 policies" in ok.stdout
    config.write_text(CONFIG.replace("access: read-only", "access: read-onyl"))
    bad = veil("policy", "check", "-c", str(config), cwd=config.parent)
    assert bad.returncode == 2 and f"{config}:8: policies[0].access: must be one of" in bad.stderr


def test_explain_json(config: Path) -> None:
    sql = "/* veil.reason: T-1 */ SELECT email, card_number, md5(ssn), notes FROM customers WHERE id = 1"
    out = veil("policy", "explain", "-c", str(config), "--identity", "agent", "--sql", sql,
               "--format", "json", cwd=config.parent)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["decision"]["allowed"] and report["decision"]["policy"] == "ai-agents"
    assert report["statements"][0]["tables_read"] == ["public.customers"]
    masking = {c["name"]: c["masking"] for c in report["columns"]}
    assert masking["email"]["method"] == "pseudonymize" and masking["email"]["type"] == "email"
    assert masking["card_number"]["method"] == "partial"
    assert masking["md5"]["method"] == "redact"
    assert masking["notes"] == {"method": "none", "why": "tagged clean"}


def test_explain_refusal_text(config: Path) -> None:
    out = veil("policy", "explain", "-c", str(config), "--identity", "agent", "--reason", "T-1",
               "--sql", "SELECT * FROM api_credentials", cwd=config.parent)
    assert out.returncode == 1
    assert "REFUSED" in out.stdout and "table public.api_credentials is not allowed" in out.stdout
    assert "pass --dsn" in out.stdout
    out = veil("policy", "explain", "-c", str(config), "--identity", "stranger", "--sql", "SELECT 1",
               cwd=config.parent)
    assert out.returncode == 1 and "(none matched)" in out.stdout


def test_check_reads_identity_files(config: Path) -> None:
    (config.parent / "jwks.json").write_text("{broken")
    config.write_text(CONFIG.replace("policies:", "  jwt: {issuer: x, audience: veil, jwks: file:jwks.json}\n"
                                     "  dev_issuer: {key: file:dev.pem}\npolicies:"))
    bad = veil("policy", "check", "-c", str(config), cwd=config.parent)
    assert bad.returncode == 2 and "identity.jwt.jwks: unusable JWKS" in bad.stderr
    (config.parent / "jwks.json").write_text('{"keys": []}')
    ok = veil("policy", "check", "-c", str(config), cwd=config.parent)
    assert ok.returncode == 0 and "does not exist yet" in ok.stderr
    (config.parent / "dev.pem").write_text("junk")
    bad = veil("policy", "check", "-c", str(config), cwd=config.parent)
    assert bad.returncode == 2 and ":6: identity.dev_issuer.key:" in bad.stderr


def test_explain_with_a_catalog_expands_star(config: Path, pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int, email text, notes text)")
    out = veil("policy", "explain", "-c", str(config), "--identity", "agent", "--reason", "T-1",
               "--dsn", pg_dsn, "--sql", "SELECT * FROM customers", "--format", "json", cwd=config.parent)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["catalog"] == "loaded"
    columns = {c["name"]: c for c in report["columns"]}
    assert set(columns) == {"id", "email", "notes"}
    assert columns["email"]["masking"]["method"] == "pseudonymize"
    assert columns["notes"]["masking"] == {"method": "none", "why": "tagged clean"}
