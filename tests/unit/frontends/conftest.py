"""The agent front-end unit tests share the e2e fixtures (seeded database, identities)."""

from tests.e2e.agents.conftest import (  # noqa: F401
    agent_token,
    identity_settings,
    provider,
    seeded_dsn,
)
