"""``require_reason``: a statement touching data needs a reason; the refusal says how to give one.

Transaction control, session settings, reads of nothing but the system catalogs and
constant selects are exempt: drivers send them on their own (psycopg's implicit ``BEGIN``, asyncpg's
type introspection, ``SELECT 1`` pings), they reveal no data, and refusing them would
make a reason given as a comment on the real statement useless.
"""

from __future__ import annotations

from veil.policy.model import RuleContext
from veil.policy.rules.tables import SYSTEM_SCHEMAS, qualify
from veil.values import StatementInfo, StatementKind

HOW_TO_PASS_A_REASON = (
    "pass a reason with PGOPTIONS='-c veil.reason=TICKET-123' (startup), "
    "SET veil.reason = 'TICKET-123' (session), "
    "or a leading /* veil.reason: TICKET-123 */ comment (one statement)"
)
_NO_DATA_KINDS = frozenset({StatementKind.TXN, StatementKind.SESSION})


def needs_reason(statement: StatementInfo) -> bool:
    if statement.kind in _NO_DATA_KINDS:
        return False
    if statement.kind == StatementKind.READ and not statement.tables_written:
        if statement.tables_read:
            return not all(qualify(t).split(".", 1)[0] in SYSTEM_SCHEMAS for t in statement.tables_read)
        return bool(statement.functions)  # a function may read tables the parser cannot see
    return True


class ReasonRequiredRule:
    id = "require-reason"

    def check(self, ctx: RuleContext) -> list[str]:
        if not ctx.policy.settings.require_reason or (ctx.reason and ctx.reason.strip()):
            return []
        if not any(needs_reason(s) for s in ctx.statements):
            return []
        return [f"a reason is required; {HOW_TO_PASS_A_REASON}"]
