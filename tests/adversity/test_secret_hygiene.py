"""Secrets and PII that reach veil never come out of it again in anything veil writes.

Why: logs and the audit trail are read by more people, kept longer and shipped
further than the data itself.  A proxy that masks results but writes a password, a
token, a query literal, a typed reason or a PostgreSQL error message (which quotes
the offending value) into its log or audit store has moved the leak, not closed it.

The test plants unique values through every door a client has (a wrong password, a
forged JWT and a valid one as passwords, literals in a WHERE clause, a bind
parameter, PII in ``veil.reason``, a value that makes PostgreSQL fail and quote it),
then greps everything veil wrote: its stdout/stderr, the sqlite audit database files
(``-wal``/``-journal`` included) byte for byte, and ``veil audit export`` output
from the real CLI.  Every planted value must have zero hits.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.support.proxy import basic_config, password_ref, running_veil
from veil.config import DevIssuerSettings
from veil.identity import ensure_key, issue_token


def _ssn() -> str:
    """A valid-looking SSN that occurs nowhere else (area 100-665, not 000 in any group)."""
    n = secrets.randbelow(10**9)
    return f"{100 + n % 566:03d}-{10 + n // 566 % 89:02d}-{1000 + n // 50374 % 8999:04d}"


def _planted() -> dict[str, str]:
    tag = secrets.token_hex(5)
    return {
        "wrong_password": f"Wr0ng-pw-{tag}",
        "token_user_password": f"NotAToken-{tag}-pw",
        "literal_email": f"lit.{tag}@example.org",
        "literal_secret": f"sk_live_{tag}{secrets.token_hex(8)}",
        "bind_param_email": f"bind.{tag}@example.net",
        "reason_email": f"why.{tag}@example.com",
        "reason_ssn": _ssn(),
        "error_ssn": _ssn(),
        "error_card": "4111 1111 " + "".join(str(secrets.randbelow(10)) for _ in range(8)),
        "refused_write_email": f"denied.{tag}@example.org",
        "refused_write_secret": f"ghp_{secrets.token_hex(18)}",
    }


def _forged_token(dev: DevIssuerSettings, tmp_path: Path) -> str:
    """A well-formed dev-issuer token signed with a *different* key (must be refused)."""
    other = DevIssuerSettings(key=f"file:{tmp_path / 'other-issuer.ed25519'}")
    ensure_key(other)
    return issue_token(other, identity="tok-user", groups=["g"], kind="agent", ttl=300, clock=time.time)


def _hits(needle: str, haystacks: dict[str, bytes]) -> list[str]:
    variants = {needle, needle.replace("-", ""), needle.replace(" ", "")}
    return [name for name, data in haystacks.items() for v in variants if v.encode() in data]


def test_planted_secrets_appear_nowhere_veil_writes(pg_dsn: str, tmp_path: Path) -> None:
    planted = _planted()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int, email text)")
        conn.execute("INSERT INTO customers VALUES (1, 'someone@example.com')")
    dev = DevIssuerSettings(key=f"file:{tmp_path / 'dev-issuer.ed25519'}")
    ensure_key(dev)
    good_token = issue_token(dev, identity="tok-user", groups=["g"], kind="agent", ttl=300, clock=time.time)
    forged = _forged_token(dev, tmp_path)
    audit_db = tmp_path / "audit" / "trail.db"
    audit_db.parent.mkdir()
    cfg = basic_config(
        pg_dsn,
        [("alice", "alice-pw-1", ["analysts"], "human"), ("robo", "robo-pw-1", ["bots"], "agent")],
        audit={"store": f"sqlite:///{audit_db}"},
    )
    cfg["identity"]["dev_issuer"] = {"key": dev.key}
    read_only = {
        "name": "bots-read-only",
        "when": {"kind": "agent"},
        "access": "read-only",
        "mask": {"default": "pseudonymize"},
    }
    cfg["policies"] = [read_only, {**cfg["policies"][0], "when": {}}]

    with running_veil(cfg, tmp_path=tmp_path) as veil:
        for user, password in (
            ("alice", planted["wrong_password"]),
            ("tok-user", forged),
            ("tok-user", planted["token_user_password"]),
        ):
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(veil.dsn(user, password)).close()
        with psycopg.connect(veil.dsn("tok-user", good_token), autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        with psycopg.connect(veil.dsn("alice", "alice-pw-1"), autocommit=True) as conn:
            rows = conn.execute(
                f"SELECT id FROM customers WHERE email = '{planted['literal_email']}' "
                f"OR email = '{planted['literal_secret']}'"
            ).fetchall()
            assert rows == []
            assert (
                conn.execute(
                    "SELECT id FROM customers WHERE email = %s", (planted["bind_param_email"],)
                ).fetchall()
                == []
            )
            reason = f"/* veil.reason: mail {planted['reason_email']} ssn {planted['reason_ssn']} */ SELECT 2"
            assert conn.execute(reason).fetchone() == (2,)
            for bad in (f"SELECT '{planted['error_ssn']}'::int", f"SELECT '{planted['error_card']}'::date"):
                with pytest.raises(psycopg.errors.DataError) as info:
                    conn.execute(bad)
                assert "invalid input syntax" in str(info.value)  # the client itself gets the real error
        with psycopg.connect(veil.dsn("robo", "robo-pw-1"), autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # refused by policy, then audited
                conn.execute(
                    f"INSERT INTO customers VALUES (9, '{planted['refused_write_email']}'), "
                    f"(10, '{planted['refused_write_secret']}')"
                )
            assert conn.execute("SELECT count(*) FROM customers").fetchone() == (1,)
        logs = veil.logs()
    assert "Traceback" not in logs, logs[-3000:]

    env = dict(os.environ)
    for password in ("alice-pw-1", "robo-pw-1"):  # the CLI reads the same config, passwords included
        env[password_ref(password).removeprefix("env:")] = password
    export = subprocess.run(
        [sys.executable, "-m", "veil", "audit", "export", "-c", str(veil.config_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert export.returncode == 0, export.stderr.decode(errors="replace")[-2000:]
    assert b"request" in export.stdout, "the export holds the requests"
    haystacks: dict[str, bytes] = {
        "veil logs": logs.encode(),
        "audit export stdout": export.stdout,
        "audit export stderr": export.stderr,
    }
    for path in audit_db.parent.iterdir():
        haystacks[path.name] = path.read_bytes()
    assert audit_db.name in haystacks and len(haystacks[audit_db.name]) > 0
    # the grep itself works: what veil *should* record (who logged in) is found
    assert "audit export stdout" in _hits("tok-user", haystacks)
    assert "audit export stdout" in _hits("robo", haystacks)  # the refused write was audited
    assert audit_db.name in _hits("alice", haystacks)
    secrets_planted = {
        **planted,
        "forged token": forged,
        "valid token": good_token,
        "forged token signature": forged.rsplit(".", 1)[1],
        "valid token signature": good_token.rsplit(".", 1)[1],
    }
    leaks = {name: hits for name, value in secrets_planted.items() if (hits := _hits(value, haystacks))}
    assert leaks == {}, f"planted values found in: {leaks}"
