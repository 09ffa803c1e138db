"""``require_limit``: reads must say how many rows they want (LIMIT / FETCH FIRST)."""

from __future__ import annotations

from veil.policy.model import RuleContext
from veil.values import StatementKind


class RequireLimitRule:
    id = "require-limit"

    def check(self, ctx: RuleContext) -> list[str]:
        if not ctx.policy.settings.require_limit:
            return []
        if any(s.kind == StatementKind.READ and s.tables_read and not s.has_limit for s in ctx.statements):
            return ["a read needs a LIMIT (require_limit)"]
        return []
