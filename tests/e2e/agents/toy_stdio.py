"""``veil mcp`` with the toy pipeline, for the stdio test (run as a subprocess by the MCP client SDK).

Everything after composition is the product path: ``serve_stdio`` verifies
VEIL_TOKEN with the real IdentityProvider, pools the configured upstream and
serves the tools.  Env: VEIL_CONFIG, VEIL_TOKEN, VEIL_TOY_AUDIT (finished requests).
"""

from __future__ import annotations

import asyncio
import os
import sys

from tests.e2e.agents.toy_pipeline import ToyPipeline

from veil.config import load_config
from veil.errors import AuthError
from veil.frontends.mcp import serve_stdio


def main() -> int:
    settings = load_config(os.environ["VEIL_CONFIG"])
    try:
        asyncio.run(serve_stdio(settings, ToyPipeline(require_reason=True), os.environ.get("VEIL_TOKEN", "")))
    except AuthError as exc:
        print(f"veil: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
