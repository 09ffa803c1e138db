"""Several statements in one Query message: refused for agents unless the policy allows it.

One statement per request keeps an agent's every action a separate decision and
audit record, and closes the ``SELECT 1; <anything>`` smuggling route.
"""

from __future__ import annotations

from veil.policy.model import RuleContext


class MultiStatementRule:
    id = "multi-statement"

    def check(self, ctx: RuleContext) -> list[str]:
        # statement_count covers a caller that passes one merged StatementInfo for the whole text.
        count = max([len(ctx.statements), *(s.statement_count for s in ctx.statements)])
        if count <= 1:
            return []
        allowed = ctx.policy.settings.allow_multi_statement
        if allowed is None:
            allowed = ctx.identity.kind != "agent"
        if allowed:
            return []
        return [f"{count} statements in one request; send one statement at a time"]
