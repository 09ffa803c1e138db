"""The ``veil`` command.

Sub-commands live one per module in this package and are imported lazily, so
``veil --help`` stays fast and a command's heavy dependencies load only when it runs.
Exit codes (INTERFACE.md): 0 success, 1 failed check, 2 usage or config error.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from veil.errors import ConfigError, VeilError

# command name -> (module under veil.cli, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("demo", "demo", "Run an embedded PostgreSQL with sample data behind veil."),
    "serve": ("serve", "serve", "Run the proxy as configured."),
    "keys": ("keys", "keys", "Generate masking and audit signing keys."),
    "token": ("token", "token", "Mint JWTs from the local dev issuer."),
    "detect": ("detect", "detect", "Detect sensitive data in JSON Lines values on stdin."),
    "scan": ("scan", "scan", "Classify the columns of a live database."),
    "mask": ("mask", "mask", "Mask a CSV or JSON Lines file or stream."),
    "policy": ("policy", "policy", "Check a config; explain a decision."),
    "audit": ("audit", "audit", "Verify, read and prove the audit trail."),
    "unmask": ("unmask", "unmask", "Reverse FF1 tokens (audited, policy permitting)."),
    "report": ("report", "report", "Compliance report from the audit trail."),
    "mcp": ("mcp", "mcp", "MCP server on stdio for an AI agent."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    def _available(self, name: str) -> bool:
        module = COMMANDS[name][0]
        return importlib.util.find_spec(f"veil.cli.{module}") is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not self._available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        mod = importlib.import_module(f"veil.cli.{module}")
        command: click.Command = getattr(mod, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="veil")
def cli() -> None:
    """veil: identify, authorize, mask and audit every query to PostgreSQL.

    \b
    Quick start:
      veil demo                      # embedded PostgreSQL + sample data + proxy
      veil serve -c veil.yaml        # run the proxy as configured
      veil policy explain -c veil.yaml --identity agent --sql "SELECT * FROM customers"
    """


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: maps veil errors to the documented exit codes."""
    try:
        result = cli.main(args=argv, standalone_mode=False)
        # without standalone mode, ctx.exit(n) comes back as a return value
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except ConfigError as exc:
        click.echo(f"veil: config error: {exc}", err=True)
        sys.exit(2)
    except VeilError as exc:
        click.echo(f"veil: {exc}", err=True)
        sys.exit(1)
