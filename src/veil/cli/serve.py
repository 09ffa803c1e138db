"""``veil serve -c veil.yaml``: run the proxy as configured."""

from __future__ import annotations

import logging
import sys

import click

from veil.errors import ConfigError


@click.command("serve")
@click.option("-c", "--config", "config_path", envvar="VEIL_CONFIG", required=True,
              type=click.Path(dir_okay=False), help="The veil.yaml to serve (also VEIL_CONFIG).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def serve(config_path: str, log_level: str) -> None:
    """Run the proxy: clients connect to veil as to PostgreSQL.

    \b
    Example:
      veil serve -c veil.yaml
      psql "postgresql://analyst@127.0.0.1:6432/app"

    SIGTERM stops accepting and lets running statements finish (listen.shutdown_grace,
    default 10 s); SIGHUP reloads the config file (the running config stays on error).
    """
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from veil.app import run
    from veil.config import load_config

    try:
        settings = load_config(config_path)
        if settings.listen.postgres is None:
            raise ConfigError("no PostgreSQL listener configured", key="listen.postgres")
        from veil.app import frontend_config

        frontend_config(settings)  # fail fast (exit 2) on a bad DSN, TLS files or identity section
    except ConfigError as exc:
        click.echo(f"veil: config error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"veil: config error: {exc}", err=True)
        sys.exit(2)
    run(settings, reload=lambda: load_config(config_path))
