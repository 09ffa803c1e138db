"""What an agent may learn about the schema: tables, row estimates, columns, sensitive types.

Fixed catalog queries of ours (never caller SQL), run read-only as the upstream
role, so an agent sees only relations that role can read.  The sensitive types per
column come from what veil knows without reading values: the ``columns:`` tags of
the config first, then the column-name hints of the detector.  Values are masked
anyway; this tells the model *which* columns it will see masked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from veil.detect import name_hints
from veil.errors import VeilError
from veil.pipeline.hooks import Session
from veil.policy import PolicySet
from veil.upstream.pool import UpstreamPool
from veil.values import StatementInfo, StatementKind

_USER_RELATIONS = """
    SELECT n.nspname, c.relname,
           CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                          WHEN 'f' THEN 'foreign table' ELSE 'table' END,
           GREATEST(c.reltuples, 0)::bigint::text
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
       AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
"""

_COLUMNS = """
    SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
           (NOT a.attnotnull)::text, a.attnum::text
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
       AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
"""


class UnknownTable(VeilError):
    """describe_table named a relation that does not exist or the agent may not read."""


class SchemaCatalog:
    """Lists and describes relations with the sensitive types veil expects in each column.

    With ``policies`` (the running policy set; a callable, since a reload replaces it)
    a table the caller's policy would refuse to read is not shown at all: an agent
    should not spend queries, or learn names, on tables it may not touch.
    """

    def __init__(self, pool: UpstreamPool, column_tags: Mapping[str, str] | None = None, *,
                 policies: Callable[[], PolicySet] | None = None) -> None:
        self._pool = pool
        self._tags = dict(column_tags or {})
        self._policies = policies

    def visible(self, session: Session | None, schema: str, table: str) -> bool:
        """False when the session's policy refuses reading ``schema.table`` (the ``tables`` rule)."""
        if self._policies is None or session is None:
            return True
        probe = StatementInfo(kind=StatementKind.READ, command="SELECT",
                              tables_read=frozenset({f"{schema}.{table}"}), has_limit=True)
        decision = self._policies().evaluate(session.identity, (probe,), client_addr=session.client_addr,
                                             reason="list_tables")
        return decision.allowed or (bool(decision.rule_ids) and "tables" not in decision.rule_ids)

    def sensitive_types(self, schema: str, table: str, column: str) -> list[str]:
        """The types veil will treat the column as: a config tag wins (``none`` = known clean)."""
        tag = self._tags.get(f"{schema}.{table}.{column}")
        if tag is not None:
            return [] if tag == "none" else [tag]
        return sorted({g.type for g in name_hints(column)})

    async def list_tables(self, schema: str | None = None, *, session: Session | None = None
                          ) -> list[dict[str, Any]]:
        sql, params = _USER_RELATIONS, []
        if schema:
            sql, params = sql + " AND n.nspname = $1", [schema]
        relations = await self._pool.fetch_catalog(sql + " ORDER BY 1, 2", params)
        columns = await self._columns(schema=schema)
        tables = []
        for nsp, rel, kind, estimate in relations:
            assert nsp is not None and rel is not None
            if not self.visible(session, nsp, rel):
                continue
            sensitive = {c["name"]: c["sensitive_types"] for c in columns.get((nsp, rel), [])
                         if c["sensitive_types"]}
            tables.append({"schema": nsp, "table": rel, "kind": kind,
                           "row_estimate": int(estimate or 0), "sensitive_columns": sensitive})
        return tables

    async def describe_table(self, name: str, *, session: Session | None = None) -> dict[str, Any]:
        schema, _, table = name.rpartition(".")
        schema = schema or "public"
        columns = await self._columns(schema=schema, table=table)
        if (schema, table) not in columns or not self.visible(session, schema, table):
            raise UnknownTable(f"no table {schema}.{table} that this identity may read")
        rows = await self._pool.fetch_catalog(
            _USER_RELATIONS + " AND n.nspname = $1 AND c.relname = $2", [schema, table])
        kind, estimate = (rows[0][2], rows[0][3]) if rows else ("table", "0")
        return {"schema": schema, "table": table, "kind": kind, "row_estimate": int(estimate or 0),
                "columns": columns[(schema, table)]}

    async def _columns(self, *, schema: str | None = None, table: str | None = None
                       ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        sql, params = _COLUMNS, []
        if schema:
            sql, params = sql + " AND n.nspname = $1", [schema]
        if table:
            sql, params = sql + f" AND c.relname = ${len(params) + 1}", [*params, table]
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for nsp, rel, col, type_name, nullable, _ in await self._pool.fetch_catalog(
                sql + " ORDER BY 1, 2, a.attnum", params):
            assert nsp is not None and rel is not None and col is not None
            out.setdefault((nsp, rel), []).append({
                "name": col, "type": type_name, "nullable": nullable == "true",
                "sensitive_types": self.sensitive_types(nsp, rel, col)})
        return out
