"""``require_reason``: a statement needs a stated reason, and the refusal says how to give one."""

from __future__ import annotations

from veil.policy.model import RuleContext

HOW_TO_PASS_A_REASON = (
    "pass a reason with PGOPTIONS='-c veil.reason=TICKET-123' (startup), "
    "SET veil.reason = 'TICKET-123' (session), "
    "or a leading /* veil.reason: TICKET-123 */ comment (one statement)"
)


class ReasonRequiredRule:
    id = "require-reason"

    def check(self, ctx: RuleContext) -> list[str]:
        if not ctx.policy.settings.require_reason or (ctx.reason and ctx.reason.strip()):
            return []
        return [f"a reason is required; {HOW_TO_PASS_A_REASON}"]
