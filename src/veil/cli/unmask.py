"""``veil unmask``: reverse FF1 tokens (the ``tokenize`` method), policy permitting, always audited.

Only an identity whose matching policy has ``allow_unmask: true`` may do it, always with a
reason, and the audit event is written (and flushed) *before* a single original is
printed: if the trail refuses the event, nothing is revealed.  The event holds the
count, type and key id, never a token or a value.
"""

from __future__ import annotations

import sys

import click

from veil.config import Settings, load_config
from veil.errors import ConfigError, PolicyDenied
from veil.mask.engine import MaskEngine
from veil.mask.keys import Keyring
from veil.pipeline.audit import AuditService
from veil.policy import PolicySet
from veil.values import Identity


def _identity(settings: Settings, name: str) -> Identity:
    for user in settings.identity.users:
        if user.name == name:
            return Identity(subject=name, groups=user.groups, kind=user.kind)
    return Identity(subject=name)


@click.command()
@click.option("-c", "--config", "config_path", envvar="VEIL_CONFIG", required=True,
              type=click.Path(dir_okay=False), help="veil.yaml (also $VEIL_CONFIG).")
@click.option("--identity", required=True, help="Who unmasks; their policy must allow_unmask.")
@click.option("--reason", required=True, help="Why (recorded in the audit trail as a keyed hash).")
@click.option("--type", "data_type", required=True,
              help="Data type the tokens were made for (e.g. credit_card).")
@click.option("--key-id", default=None, help="Masking key id the tokens were made under (default: active).")
def unmask(config_path: str, identity: str, reason: str, data_type: str, key_id: str | None) -> None:
    """Reverse FF1 tokens read one per line on stdin; print the originals in order.

    \b
    Example:
      echo '7512 1415 0482 6058' | veil unmask -c veil.yaml --identity dpo \\
          --reason "DSAR-1234" --type credit_card
    """
    if not reason.strip():
        raise click.UsageError("--reason must not be empty")
    settings = load_config(config_path)
    who = _identity(settings, identity)
    policy = PolicySet.from_settings(settings).match(who, client_addr="local")
    if policy is None or not policy.allow_unmask:
        raise PolicyDenied(f"identity {identity} may not unmask (no matching policy allows it)",
                           policy=policy.name if policy else None)
    if not settings.keys.masking:
        raise ConfigError("keys.masking is required to unmask", key="keys.masking")
    engine = MaskEngine(Keyring.load(settings.keys.masking), cache_size=0)
    tokens = [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    originals = [engine.unmask_text(data_type, token, key_id=key_id) for token in tokens]
    audit = AuditService.from_settings(settings, command="unmask")  # its own log: never waits on a server
    try:
        details = {"type": data_type, "count": len(tokens), "key_id": key_id or engine.key_id,
                   "policy": policy.name}
        audit.record_event("unmask", identity=who, reason=reason, details=details)
        audit.flush()
    finally:
        audit.close()
    for original in originals:
        click.echo(original)
