"""``veil mcp -c veil.yaml``: an MCP server on stdio for one AI agent."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from typing import TYPE_CHECKING

import click

from veil.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from veil.config import Settings
    from veil.pipeline.service import VeilPipeline


@click.command("mcp")
@click.option("-c", "--config", "config_path", envvar="VEIL_CONFIG", required=True,
              type=click.Path(dir_okay=False), help="The veil.yaml to use (also VEIL_CONFIG).")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def mcp(config_path: str, log_level: str) -> None:
    """Serve MCP on stdin/stdout; the agent's credentials come from VEIL_TOKEN.

    VEIL_TOKEN is a JWT (from your IdP, or `veil token issue`) or `user:password` of a
    static identity.  Every tool call goes through the same policy, masking and audit as
    a psql session of that identity.  VEIL_REASON, when set, is the session's reason
    (as `veil.reason` for psql): calls that give no reason of their own carry it.

    \b
    Example (what a desktop MCP client runs):
      VEIL_TOKEN=agent:secret veil mcp -c veil.yaml
    """
    # stdout is the protocol channel: logs go to stderr only.
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from veil.config import load_config
    from veil.frontends.mcp import serve_stdio

    token = os.environ.get("VEIL_TOKEN", "")
    if not token:
        click.echo("veil: set VEIL_TOKEN to a JWT or user:password", err=True)
        sys.exit(2)
    try:
        settings = load_config(config_path)
        pipeline = stdio_pipeline(settings)
    except (ConfigError, OSError) as exc:
        click.echo(f"veil: config error: {exc}", err=True)
        sys.exit(2)
    try:
        asyncio.run(serve_stdio(settings, pipeline, token, metrics=pipeline.metrics,
                                reason=os.environ.get("VEIL_REASON")))
    except AuthError as exc:
        click.echo(f"veil: {exc}", err=True)
        sys.exit(1)
    finally:
        pipeline.close()  # flushes the audit trail and signs the final checkpoint


def stdio_pipeline(settings: Settings) -> VeilPipeline:
    """The real pipeline, writing its audit events to a log of its own.

    ``veil mcp`` is started by an agent's host next to a running ``veil serve`` on the
    same store; one writer per log, so it takes ``<node>~mcp-<id>`` (the convention of
    one-shot commands) instead of waiting for the server's lease.
    """
    from veil.app import catalog_execute
    from veil.pipeline.audit import AuditService
    from veil.pipeline.masking import MaskPlanner
    from veil.pipeline.service import VeilPipeline

    planner = MaskPlanner.from_settings(settings)
    node = f"{settings.audit.node_id}~mcp-{uuid.uuid4().hex[:8]}"
    audit = AuditService.from_settings(settings, node_id=node, mask_engine=planner.engine)
    return VeilPipeline(settings, execute=catalog_execute(settings), planner=planner, audit=audit)
