"""Fixtures for the agent front ends: a seeded database, an identity provider, a token."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from veil.config import Settings, parse_config
from veil.identity import IdentityProvider, ensure_key, issue_token

SEED = """
CREATE TABLE customers (id int PRIMARY KEY, email text, name text, signup date);
INSERT INTO customers VALUES
  (1, 'ann@example.org', 'Ann Lee', '2021-01-02'),
  (2, 'bob@example.net', 'Bob Roe', '2022-03-04'),
  (3, NULL, 'Cy Noe', NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, email text, total numeric(10,2));
INSERT INTO orders SELECT g, 1 + g % 3, CASE g % 3 WHEN 1 THEN 'bob@example.net'
  WHEN 2 THEN NULL ELSE 'ann@example.org' END, g * 1.5 FROM generate_series(1, 50) g;
"""


@pytest.fixture
def seeded_dsn(pg_dsn: str) -> str:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(SEED)  # type: ignore[arg-type]
    return pg_dsn


@pytest.fixture
def identity_settings(tmp_path: Path) -> Settings:
    settings = parse_config(f"""
upstream: {{postgres: "postgresql://u@127.0.0.1/db"}}
identity:
  users:
    - {{name: robot, password: s3cret-robot, groups: [bots], kind: agent}}
    - {{name: alice, password: s3cret-alice, groups: [analysts], kind: human}}
  dev_issuer: {{key: "file:{tmp_path}/dev.key"}}
""")
    assert settings.identity.dev_issuer is not None
    ensure_key(settings.identity.dev_issuer)
    return settings


@pytest.fixture
def provider(identity_settings: Settings) -> IdentityProvider:
    return IdentityProvider(identity_settings.identity)


@pytest.fixture
def agent_token(identity_settings: Settings) -> str:
    dev = identity_settings.identity.dev_issuer
    assert dev is not None
    return issue_token(dev, identity="claude", groups=["bots"], kind="agent", ttl=600, clock=time.time,
                       extra={"act": {"sub": "claude-desktop"}})

