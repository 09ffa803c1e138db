"""``veil mcp`` with the toy pipeline, for the stdio test (run as a subprocess by the MCP client SDK).

Same code path as the CLI after composition: VEIL_TOKEN verified by the real
IdentityProvider, then ``run_stdio``.  Env: VEIL_CONFIG (identity section),
VEIL_TOY_DSN (upstream), VEIL_TOY_AUDIT (where finished requests are written).
"""

from __future__ import annotations

import asyncio
import os
import sys

from tests.e2e.agents.toy_pipeline import ToyPipeline

from veil.config import load_config
from veil.errors import AuthError
from veil.frontends.mcp import AgentService, SchemaCatalog, identity_from_token, run_stdio
from veil.identity import IdentityProvider
from veil.upstream.pool import UpstreamPool


def main() -> int:
    settings = load_config(os.environ["VEIL_CONFIG"])
    try:
        identity = identity_from_token(os.environ.get("VEIL_TOKEN", ""), IdentityProvider(settings.identity))
    except AuthError as exc:
        print(f"veil: {exc}", file=sys.stderr)
        return 1
    pool = UpstreamPool(os.environ["VEIL_TOY_DSN"])
    agent = AgentService(ToyPipeline(require_reason=True), pool)
    asyncio.run(run_stdio(agent, SchemaCatalog(pool, settings.columns), identity))
    return 0


if __name__ == "__main__":
    sys.exit(main())
