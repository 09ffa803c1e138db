"""``veil mcp`` with the toy pipeline, for the stdio test (run as a subprocess by the MCP client SDK).

Everything after composition is the product path: ``serve_stdio`` verifies
VEIL_TOKEN with the real IdentityProvider, pools the configured upstream and
serves the tools.  Env: VEIL_CONFIG, VEIL_TOKEN, VEIL_TOY_AUDIT (finished requests);
VEIL_TOY_PIPELINE=real uses the composed VeilPipeline (``veil.app.build_pipeline``) instead.
"""

from __future__ import annotations

import asyncio
import os
import sys

from tests.e2e.agents.toy_pipeline import ToyPipeline

from veil.app import build_pipeline
from veil.config import Settings, load_config
from veil.errors import AuthError
from veil.frontends.mcp import serve_stdio
from veil.pipeline.hooks import Pipeline
from veil.pipeline.service import VeilPipeline


def pipeline_for(settings: Settings) -> Pipeline:
    if os.environ.get("VEIL_TOY_PIPELINE") == "real":
        return build_pipeline(settings)
    return ToyPipeline(require_reason=True)


def main() -> int:
    settings = load_config(os.environ["VEIL_CONFIG"])
    pipeline = pipeline_for(settings)
    try:
        asyncio.run(serve_stdio(settings, pipeline, os.environ.get("VEIL_TOKEN", ""),
                                reason=os.environ.get("VEIL_REASON")))
    except AuthError as exc:
        print(f"veil: {exc}", file=sys.stderr)
        return 1
    finally:
        if isinstance(pipeline, VeilPipeline):
            pipeline.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
