"""Compiled policies and the rule interface.

A :class:`CompiledPolicy` is a ``PolicySettings`` with its conditions made cheap
to test (parsed networks, lower-cased globs).  A rule looks at one policy, one
identity and the statements of one request and returns refusal reasons; it keeps
no state, so a PolicySet can be shared by every session.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from veil.config import PolicySettings
from veil.values import Identity, StatementInfo

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_MASK_METHOD = "pseudonymize"  # a policy without mask.default masks anything it detects


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    settings: PolicySettings
    networks: tuple[Network, ...]
    tables_allow: tuple[str, ...]
    tables_deny: tuple[str, ...]
    mask: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return self.settings.name

    @classmethod
    def compile(cls, settings: PolicySettings) -> CompiledPolicy:
        mask = dict(settings.mask)
        mask.setdefault("default", DEFAULT_MASK_METHOD)
        return cls(
            settings=settings,
            networks=tuple(ipaddress.ip_network(c, strict=False) for c in settings.when.cidrs),
            tables_allow=tuple(t.lower() for t in settings.tables_allow),
            tables_deny=tuple(t.lower() for t in settings.tables_deny),
            mask=tuple(sorted(mask.items())),
        )


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule may look at for one request."""

    policy: CompiledPolicy
    identity: Identity
    statements: Sequence[StatementInfo]
    reason: str | None
    client_addr: str


class Rule(Protocol):
    """One check. ``id`` is permanent: it is recorded in audit events (deprecate, never rename)."""

    id: str

    def check(self, ctx: RuleContext) -> list[str]:
        """Refusal reasons (safe for clients and the audit), empty when the request passes."""
        ...
