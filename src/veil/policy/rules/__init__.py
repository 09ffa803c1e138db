"""One policy rule per module; :data:`RULES` is the order they run in (all run, all refusals reported)."""

from veil.policy.rules.access import AccessRule
from veil.policy.rules.functions import FunctionDenyRule
from veil.policy.rules.limit import RequireLimitRule
from veil.policy.rules.multi_statement import MultiStatementRule
from veil.policy.rules.reason import HOW_TO_PASS_A_REASON, ReasonRequiredRule
from veil.policy.rules.tables import TableAccessRule

RULES = (AccessRule(), ReasonRequiredRule(), MultiStatementRule(), TableAccessRule(), FunctionDenyRule(),
         RequireLimitRule())

__all__ = [
    "HOW_TO_PASS_A_REASON", "RULES", "AccessRule", "FunctionDenyRule", "MultiStatementRule",
    "ReasonRequiredRule", "RequireLimitRule", "TableAccessRule",
]
