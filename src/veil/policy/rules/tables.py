"""``tables``: every table read or written must match an allow glob and no deny glob.

Names are compared lower-case as ``schema.table``; an unqualified name is taken
as ``public.<name>`` (the default search_path, which read-only identities may not
change).  The system catalogs are readable unless denied, because every client
library reads them to work at all - except the few that hold other sessions'
query text, password hashes or sampled column values (:data:`SENSITIVE_CATALOGS`),
which need an explicit allow entry.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from veil.policy.model import RuleContext

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
SENSITIVE_CATALOGS = frozenset({
    "pg_catalog.pg_stat_activity", "pg_catalog.pg_authid", "pg_catalog.pg_shadow",
    "pg_catalog.pg_user_mapping", "pg_catalog.pg_user_mappings", "pg_catalog.pg_statistic",
    "pg_catalog.pg_stats", "pg_catalog.pg_stats_ext",
    "pg_catalog.pg_stats_ext_exprs", "pg_catalog.pg_statistic_ext_data", "pg_catalog.pg_largeobject",
    "pg_catalog.pg_stat_statements", "public.pg_stat_statements",
})


def qualify(table: str) -> str:
    name = table.lower()
    if "." in name:
        return name
    return f"pg_catalog.{name}" if name.startswith("pg_") else f"public.{name}"


class TableAccessRule:
    id = "tables"

    def check(self, ctx: RuleContext) -> list[str]:
        tables: set[str] = set()
        for statement in ctx.statements:
            tables |= statement.tables_read | statement.tables_written
        refused = sorted(t for t in tables if not self.allowed(ctx, qualify(t)))
        return [f"table {t} is not allowed" for t in refused]

    @staticmethod
    def allowed(ctx: RuleContext, table: str) -> bool:
        policy = ctx.policy
        if any(fnmatchcase(table, pattern) for pattern in policy.tables_deny):
            return False
        if table in SENSITIVE_CATALOGS:
            return table in policy.tables_allow  # only an explicit, exact entry
        if table.split(".", 1)[0] in SYSTEM_SCHEMAS:
            return True
        return any(fnmatchcase(table, pattern) for pattern in policy.tables_allow)
