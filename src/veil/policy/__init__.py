"""What an identity may do: first-match policies, one rule per module, Decisions as data."""

from veil.policy.engine import NO_MATCH_RULE, PolicySet, client_ips
from veil.policy.model import DEFAULT_MASK_METHOD, CompiledPolicy, Rule, RuleContext
from veil.policy.rules import HOW_TO_PASS_A_REASON, RULES

__all__ = [
    "DEFAULT_MASK_METHOD", "HOW_TO_PASS_A_REASON", "NO_MATCH_RULE", "RULES", "CompiledPolicy", "PolicySet",
    "Rule", "RuleContext", "client_ips",
]
