"""``deny_functions``: the policy's globs, plus the built-in dangerous list for read-only access.

Read-write access keeps the built-in list off: break-glass administrators need
``pg_terminate_backend`` and friends, and the upstream role's privileges still apply.
"""

from __future__ import annotations

from veil.policy.model import RuleContext
from veil.sql import DANGEROUS_FUNCTIONS
from veil.sql.functions import matches


class FunctionDenyRule:
    id = "functions"

    def check(self, ctx: RuleContext) -> list[str]:
        called: set[str] = set()
        for statement in ctx.statements:
            called |= statement.functions
        policy = ctx.policy.settings
        patterns = tuple(policy.deny_functions)
        if policy.access == "read-only":
            patterns += DANGEROUS_FUNCTIONS
        return [f"function {name} is not allowed" for name in sorted(called) if matches(name, patterns)]
