"""``access``: deny refuses everything; read-only refuses anything that is not a read."""

from __future__ import annotations

from veil.policy.model import RuleContext
from veil.sql import read_only_violations
from veil.values import StatementKind


class AccessRule:
    id = "access"

    def check(self, ctx: RuleContext) -> list[str]:
        access = ctx.policy.settings.access
        if access == "deny":
            return ["access: deny"]
        if access == "read-write":
            # Unparseable SQL escapes the table rules, so it runs only where no table rule exists.
            restricted = ctx.policy.tables_allow != ("*",) or ctx.policy.tables_deny
            if restricted and any(s.kind == StatementKind.UNKNOWN for s in ctx.statements):
                return ["the statement could not be analysed, so its tables cannot be checked"]
            return []
        reasons: list[str] = []
        for statement in ctx.statements:
            for why in read_only_violations(statement):
                if why not in reasons:
                    reasons.append(why)
        return reasons
