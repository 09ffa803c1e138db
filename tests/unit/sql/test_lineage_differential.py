"""Lineage against the server: output names, and plain columns' sources, as PostgreSQL reports them.

PostgreSQL's RowDescription names every output column and, for a column taken
straight from a table, its table OID and attribute number.  Random select lists over
joins, subqueries and CTEs are run on a real server and compared: the names must be
PostgreSQL's (the mask planner matches lineage by name and position), and every
column the server attributes to a table must have exactly that source with an
identity (or cast) transform.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.services import PgServer, temp_database

from veil.sql import InMemoryCatalog, lineage

TABLES = {
    "public.customers": ["id", "name", "email", "ssn"],
    "public.orders": ["id", "customer_id", "total", "note"],
}
CATALOG = InMemoryCatalog(tables=TABLES)

EXPRESSIONS = [
    "c.id", "c.email", "email", "c.ssn", "upper(c.name)", "lower(email)", "c.email::text",
    "substr(c.ssn, 1, 3)", "o.total", "o.note", "coalesce(o.note, c.name)", "o.total * 2", "md5(c.email)",
    "c.name || '!'", "length(c.name)", "row_to_json(c)", "c", "now()", "1", "'x'", "o.customer_id",
    "(select max(total) from orders)", "case when c.id > 1 then c.email end", "greatest(o.id, c.id)",
    "array[c.name]", "c.*", "o.*",
]
TYPES = {"id": "int", "customer_id": "int", "total": "numeric"}
FROMS = [
    "customers c JOIN orders o ON o.customer_id = c.id",
    "customers c LEFT JOIN orders o USING (id)",
    "(SELECT * FROM customers) c, LATERAL (SELECT * FROM orders WHERE customer_id = c.id) o",
    "customers c CROSS JOIN (SELECT id, customer_id, total, note FROM orders) o",
    "customers c NATURAL JOIN orders o",
    "orders o RIGHT JOIN customers c ON c.id = o.customer_id",
]


SOURCE_SQL = ("SELECT n.nspname || '.' || c.relname || '.' || a.attname FROM pg_class c "
              "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a "
              "ON a.attrelid = c.oid AND a.attnum = %s WHERE c.oid = %s")


@pytest.fixture(scope="module")
def conn(pg_server: PgServer) -> Iterator[psycopg.Connection]:
    with temp_database(pg_server, prefix="veil_lin") as dsn, psycopg.connect(dsn, autocommit=True) as c:
        for table, columns in TABLES.items():
            definition = ", ".join(f"{n} {TYPES.get(n, 'text')}" for n in columns)
            c.execute(f"CREATE TABLE {table} ({definition})")
        c.execute("INSERT INTO customers VALUES (1, 'a', 'a@example.com', '123-45-6789')")
        c.execute("INSERT INTO orders VALUES (1, 1, 10, 'n')")
        yield c


def _server(conn: psycopg.Connection, sql: str) -> list[tuple[str, str | None]]:
    """(name, "schema.table.column" or None) per output column, from the RowDescription."""
    cur = conn.execute(sql)
    result = cur.pgresult
    assert result is not None
    out = []
    for i, column in enumerate(cur.description or ()):
        oid, attnum = result.ftable(i), result.ftablecol(i)
        source = None
        if oid:
            row = conn.execute(SOURCE_SQL, (attnum, oid)).fetchone()
            source = row[0] if row else None
        out.append((column.name, source))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exprs=st.lists(st.sampled_from(EXPRESSIONS), min_size=1, max_size=6),
       source=st.sampled_from(FROMS), wrap=st.sampled_from(["{q}", "WITH w AS ({q}) SELECT * FROM w"]))
def test_names_and_plain_sources_match_the_server(conn: psycopg.Connection, exprs: list[str], source: str,
                                                   wrap: str) -> None:
    if "USING" in source:
        exprs = [e.replace("email", "c.email") if e == "email" else e for e in exprs]
    sql = wrap.format(q=f"SELECT {', '.join(exprs)} FROM {source}")
    try:
        server = _server(conn, sql)
    except psycopg.Error:
        return  # e.g. a duplicate output name in a CTE: nothing to compare
    ours = lineage(sql, CATALOG)
    assert [o.name for o in ours] == [name for name, _ in server], sql
    for out, (_, source_column) in zip(ours, server, strict=True):
        if source_column is not None:
            assert out.sources == {source_column} and out.transform in ("identity", "cast"), (sql, out)
