"""PolicySet: first matching policy wins, no match is deny; the verdict is a Decision (data).

``from_settings`` is pure and cheap, so the app can rebuild the set on every
reload and swap it in; sessions pick the new one up from their next statement.
Every decision carries the settings digest as its policy hash.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from veil.config import PolicySettings, Settings
from veil.policy.load import compile_policies
from veil.policy.model import CompiledPolicy, Network, RuleContext
from veil.policy.rules import RULES
from veil.values import Decision, Identity, StatementInfo

NO_MATCH_RULE = "default-deny"
_LOCAL = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def client_ips(client_addr: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """The address(es) a client counts as: Unix sockets and in-process callers count as loopback."""
    host = client_addr.rsplit("%", 1)[0]
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        if client_addr in ("local", "unix") or client_addr.startswith("/"):
            return _LOCAL
        return ()


def _in_networks(client_addr: str, networks: tuple[Network, ...]) -> bool:
    return any(ip in net for ip in client_ips(client_addr) for net in networks if ip.version == net.version)


class PolicySet:
    def __init__(self, policies: Sequence[CompiledPolicy], digest: str = "") -> None:
        self.policies = tuple(policies)
        self.digest = digest

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicySet:
        return cls(compile_policies(settings), settings.digest)

    def _match(self, identity: Identity, client_addr: str) -> CompiledPolicy | None:
        for policy in self.policies:
            when = policy.settings.when
            if when.kind is not None and identity.kind != when.kind:
                continue
            if when.groups and not set(when.groups) & set(identity.groups):
                continue
            if when.identities and identity.subject not in when.identities:
                continue
            if policy.networks and not _in_networks(client_addr, policy.networks):
                continue
            return policy
        return None

    def match(self, identity: Identity, *, client_addr: str) -> PolicySettings | None:
        """The first policy whose ``when`` holds for this identity and address."""
        policy = self._match(identity, client_addr)
        return policy.settings if policy else None

    def evaluate(self, identity: Identity, statements: Sequence[StatementInfo], *, client_addr: str,
                 reason: str | None) -> Decision:
        """The verdict for one request; never raises for a denial."""
        policy = self._match(identity, client_addr)
        if policy is None:
            return Decision(allowed=False, policy=None, rule_ids=(NO_MATCH_RULE,),
                            reasons=(f"no policy matches identity {identity.subject}",),
                            policy_hash=self.digest)
        ctx = RuleContext(policy, identity, statements, reason, client_addr)
        rule_ids: list[str] = []
        reasons: list[str] = []
        for rule in RULES:
            found = rule.check(ctx)
            if found:
                rule_ids.append(rule.id)
                reasons.extend(f'policy "{policy.name}" refuses: {why}' for why in found)
        s = policy.settings
        allowed = not reasons
        return Decision(
            allowed=allowed,
            policy=policy.name,
            access=s.access,
            mask=policy.mask,
            rule_ids=tuple(rule_ids) if rule_ids else ("policy",),
            reasons=tuple(reasons) if reasons else (f'allowed by policy "{policy.name}" ({s.access})',),
            max_rows=s.max_rows,
            max_bytes=s.max_bytes,
            statement_timeout_ms=s.statement_timeout_ms,
            policy_hash=self.digest,
        )
