"""``veil token issue``: mint a JWT from the local dev issuer configured in veil.yaml.

For demos and tests only; production tokens come from the IdP.  The key file is
created (mode 0600) on first use if it does not exist yet.
"""

from __future__ import annotations

import re
import time

import click

from veil.config import load_config
from veil.errors import ConfigError
from veil.identity import ensure_key, issue_token

_TTL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    match = _TTL.match(text)
    if not match or int(match.group(1)) <= 0:
        raise click.BadParameter("expected a duration such as 90s, 15m, 1h or 1d", param_hint="--ttl")
    return int(match.group(1)) * _UNITS[match.group(2)]


@click.group()
def token() -> None:
    """Mint JWTs from the local dev issuer (identity.dev_issuer in veil.yaml)."""


@token.command("issue")
@click.option("-c", "--config", "config_path", envvar="VEIL_CONFIG", required=True,
              type=click.Path(dir_okay=False),
              help="The veil.yaml with identity.dev_issuer (also VEIL_CONFIG).")
@click.option("--identity", "identity", required=True,
              help="The token's subject (the user name to log in as).")
@click.option("--groups", default="", help="Comma-separated groups, e.g. analysts,staff.")
@click.option("--kind", type=click.Choice(["human", "agent"]), default="human", show_default=True)
@click.option("--ttl", default="1h", show_default=True, help="Lifetime: 90s, 15m, 1h, 1d.")
def issue(config_path: str, identity: str, groups: str, kind: str, ttl: str) -> None:
    """Print a signed JWT for IDENTITY; use it as the password.

    \b
    Example:
      PGPASSWORD=$(veil token issue -c veil.yaml --identity agent --kind agent --ttl 15m) \\
        psql "host=127.0.0.1 port=6432 user=agent dbname=app"
    """
    seconds = parse_ttl(ttl)
    settings = load_config(config_path)
    dev = settings.identity.dev_issuer
    if dev is None:
        raise ConfigError("no dev issuer configured (add identity.dev_issuer.key)", key="identity.dev_issuer",
                          source=config_path)
    if ensure_key(dev):
        click.echo(f"veil: created dev issuer key {dev.key[5:]}", err=True)
    jwt_settings = settings.identity.jwt
    click.echo(issue_token(
        dev, identity=identity, groups=[g.strip() for g in groups.split(",") if g.strip()],
        kind="agent" if kind == "agent" else "human", ttl=seconds, clock=time.time,
        groups_claim=jwt_settings.groups_claim if jwt_settings else "groups",
        kind_claim=jwt_settings.kind_claim if jwt_settings else "veil_kind",
    ))
