"""Lineage tables: SQL -> per output column (name, sources, transform); and the predicates."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from tests.support.services import PgServer, temp_database

from veil.sql import InMemoryCatalog, OutputLineage, TooComplexError, lineage, lineage_all, predicates

CATALOG = InMemoryCatalog(
    tables={
        "public.customers": ["id", "name", "email", "ssn"],
        "public.orders": ["id", "customer_id", "total", "note"],
        "public.v_contacts": ["cid", "mail"],
        "public.v_nested": ["m"],
        "crm.leads": ["lead_email"],
        "public.people": ["email", "id"],
    },
    views={
        "public.v_contacts": "select id, lower(email) from customers where ssn is not null",
        "public.v_nested": "select mail from v_contacts",
    },
)
C = "public.customers."
ALL_C = frozenset({C + "id", C + "name", C + "email", C + "ssn"})

Row = tuple[str, set[str] | frozenset[str], str]
CASES: list[tuple[str, list[Row]]] = [
    (
        "select email, ssn from customers",
        [("email", {C + "email"}, "identity"), ("ssn", {C + "ssn"}, "identity")],
    ),
    ("select upper(email) from customers", [("upper", {C + "email"}, "case-change")]),
    ("select email::varchar(10) as e from customers", [("e", {C + "email"}, "cast")]),
    ("select substr(ssn, 1, 3) from customers", [("substr", {C + "ssn"}, "transformed")]),
    (
        "select encode(convert_to(ssn, 'UTF8'), 'hex') from customers",
        [("encode", {C + "ssn"}, "transformed")],
    ),
    (
        "select md5(email), translate(ssn, '0123', 'abcd') from customers",
        [("md5", {C + "email"}, "transformed"), ("translate", {C + "ssn"}, "transformed")],
    ),
    ("select row_to_json(c) from customers c", [("row_to_json", ALL_C, "embedded")]),
    ("select c::text from customers c", [("c", ALL_C, "embedded")]),
    ("select c from customers c", [("c", ALL_C, "embedded")]),
    ("select to_jsonb(c.*) from customers c", [("to_jsonb", ALL_C, "embedded")]),
    (
        "select c.* from customers c",
        [
            ("id", {C + "id"}, "identity"),
            ("name", {C + "name"}, "identity"),
            ("email", {C + "email"}, "identity"),
            ("ssn", {C + "ssn"}, "identity"),
        ],
    ),
    ("select 'x' || email from customers", [("?column?", {C + "email"}, "embedded")]),
    ("select coalesce(email, 'n/a') from customers", [("coalesce", {C + "email"}, "identity")]),
    (
        "select count(*), count(ssn), max(email) from customers",
        [("count", set(), "none"), ("count", set(), "none"), ("max", {C + "email"}, "identity")],
    ),
    ("select string_agg(email, ',') from customers", [("string_agg", {C + "email"}, "embedded")]),
    # views, also nested, through the catalog
    ("select mail from v_contacts", [("mail", {C + "email"}, "case-change")]),
    ("select * from v_nested", [("m", {C + "email"}, "case-change")]),
    # CTEs and subqueries, with column aliases
    ("with x(e) as (select email from customers) select e from x", [("e", {C + "email"}, "identity")]),
    ("select s.x from (select ssn as x from customers) s", [("x", {C + "ssn"}, "identity")]),
    ("select (select email from customers limit 1) as first", [("first", {C + "email"}, "identity")]),
    ("select array(select ssn from customers)", [("array", {C + "ssn"}, "embedded")]),
    # joins, USING, LATERAL, set-returning functions
    (
        "select o.total, c.email from orders o join customers c on c.id = o.customer_id",
        [("total", {"public.orders.total"}, "identity"), ("email", {C + "email"}, "identity")],
    ),
    ("select id from customers join orders using (id)", [("id", {C + "id", "public.orders.id"}, "identity")]),
    ("select x from customers c, lateral (select c.ssn as x) l", [("x", {C + "ssn"}, "identity")]),
    ("select u from customers c, unnest(array[c.email]) u", [("u", {C + "email"}, "identity")]),
    (
        "select * from customers c, lateral jsonb_each(to_jsonb(c)) as kv(k, v)",
        [
            ("id", {C + "id"}, "identity"),
            ("name", {C + "name"}, "identity"),
            ("email", {C + "email"}, "identity"),
            ("ssn", {C + "ssn"}, "identity"),
            ("k", ALL_C, "transformed"),
            ("v", ALL_C, "transformed"),
        ],
    ),
    # set operations merge per position
    (
        "select email from customers union select note from orders",
        [("email", {C + "email", "public.orders.note"}, "identity")],
    ),
    (
        "with recursive r as (select email from customers union all select r.email from r) select * from r",
        [("email", {C + "email"}, "identity")],
    ),
    # a CASE output leaks its condition's column
    (
        "select case when ssn like '1%' then 'a' else 'b' end from customers",
        [("case", {C + "ssn"}, "transformed")],
    ),
    (
        "select 1, $1, now()",
        [("?column?", set(), "none"), ("?column?", set(), "none"), ("now", set(), "none")],
    ),
    ("select lead_email from crm.leads", [("lead_email", {"crm.leads.lead_email"}, "identity")]),
    ("copy customers (email) to stdout", [("email", {C + "email"}, "identity")]),
    ("copy (select upper(name) from customers) to stdout", [("upper", {C + "name"}, "case-change")]),
    ("update customers set name = 'x' returning email", [("email", {C + "email"}, "identity")]),
    ("select (c).email from customers c", [("email", {C + "email"}, "identity")]),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_lineage(sql: str, expected: list[Row]) -> None:
    got = [(o.name, set(o.sources), o.transform) for o in lineage(sql, CATALOG)]
    assert got == [(n, set(s), t) for n, s, t in expected]


def test_keeps_shape() -> None:
    kinds = {
        o.transform: o.keeps_shape
        for o in lineage(
            "select email, upper(email), email::text, md5(email), row_to_json(c) from customers c", CATALOG
        )
    }
    assert kinds == {
        "identity": True,
        "case-change": True,
        "cast": True,
        "transformed": False,
        "embedded": False,
    }


def test_unknown_tables_are_attributed_by_name() -> None:
    # the only relation, no outer scope, or a qualified name: nothing else can be meant
    [col] = lineage("select secret from vault")
    assert col == OutputLineage("secret", frozenset({"public.vault.secret"}), "identity", complete=True)
    [col] = lineage("select v.secret from vault v join other o on true")
    assert col.sources == {"public.vault.secret"} and col.complete
    # ambiguous between two unknown tables, or a "*" nobody can expand: incomplete
    [col] = lineage("select secret from vault, other")
    assert col.sources == {"public.vault.secret", "public.other.secret"} and not col.complete
    [star] = lineage("select * from vault")
    assert star.sources == {"public.vault.*"} and not star.complete
    [whole] = lineage("select row_to_json(v) from vault v")
    assert whole.sources == {"public.vault.*"} and whole.transform == "embedded"


def test_cte_shadows_table_only_in_its_statement() -> None:
    sql = "select * from (with customers as (select 1 as z) select z from customers) a, customers"
    names = [o.name for o in lineage(sql, CATALOG)]
    assert names == ["z", "id", "name", "email", "ssn"]


def test_each_statement_and_bad_sql() -> None:
    assert [len(x) for x in lineage_all("select 1; select email, ssn from customers", CATALOG)] == [1, 2]
    assert lineage("selec 1") == []


def test_view_cycle_does_not_loop() -> None:
    cyclic = InMemoryCatalog(
        tables={"public.a": ["x"], "public.b": ["x"]},
        views={"public.a": "select x from b", "public.b": "select x from a"},
    )
    [col] = lineage("select x from a", cyclic)
    assert col.name == "x"


PREDICATES = [
    ("select id from customers where ssn like '12%'", [("public.customers.ssn", "where", False)]),
    ("select id from customers where ssn = $1", [("public.customers.ssn", "where", True)]),
    (
        "select id from customers where ssn in ('1', '2') or email <> 'x'",
        [("public.customers.ssn", "where", True), ("public.customers.email", "where", True)],
    ),
    ("select id from customers where substr(ssn, 1, 3) = '123'", [("public.customers.ssn", "where", False)]),
    ("select id from customers where lower(email) = 'a@b.c'", [("public.customers.email", "where", True)]),
    ("select id from customers where ssn > '5'", [("public.customers.ssn", "where", False)]),
    ("select id from customers order by ssn", [("public.customers.ssn", "order by", False)]),
    ("select ssn as s from customers order by s", [("public.customers.ssn", "order by", False)]),
    ("select ssn from customers order by 1", [("public.customers.ssn", "order by", False)]),
    (
        "select count(*) from customers group by ssn having count(*) > 1",
        [("public.customers.ssn", "group by", True)],
    ),
    (
        "select 1 from customers c join orders o on o.note like c.email",
        [("public.orders.note", "join", False), ("public.customers.email", "join", False)],
    ),
    (
        "select id from customers where id in (select customer_id from orders where note ~ 'x')",
        [
            ("public.orders.note", "where", False),
            ("public.customers.id", "where", True),
            ("public.orders.customer_id", "where", True),
        ],
    ),
    (
        "select count(*) filter (where ssn like '1%') from customers",
        [("public.customers.ssn", "filter", False)],
    ),
    ("select case when ssn like '1%' then 1 end from customers", [("public.customers.ssn", "case", False)]),
    ("select row_number() over (order by ssn) from customers", [("public.customers.ssn", "window", False)]),
    ("select mail from v_contacts where mail like 'a%'", [("public.customers.email", "where", False)]),
    ("select id from customers where ssn is null", [("public.customers.ssn", "where", True)]),
]


@pytest.mark.parametrize(("sql", "expected"), PREDICATES, ids=[p[0][:60] for p in PREDICATES])
def test_predicates(sql: str, expected: list[tuple[str, str, bool]]) -> None:
    got = {(p.column, p.clause, p.equality) for p in predicates(sql, CATALOG)}
    assert got == set(expected)


def test_too_deep_to_follow_raises_a_typed_error() -> None:
    deep = "select " + "+".join(["ssn"] * 3000) + " from customers"
    with pytest.raises(TooComplexError):
        lineage(deep, CATALOG)
    with pytest.raises(TooComplexError):
        predicates("select 1 from customers where " + "+".join(["ssn"] * 3000) + " = 1", CATALOG)


NAMED = [
    "select email, upper(email), email::varchar(10), substr(ssn, 1, 3), 'x' || email, "
    "coalesce(email, 'n'), greatest(id, 1), least(id, 2), nullif(name, 'x'), current_user, now(), "
    "case when id > 1 then 1 end, row_to_json(c), c, (select 1), exists (select 1), array[1], "
    "'1'::int, id + 1 from customers c",
    "select count(*), max(email), string_agg(name, ',') from customers",
    "select (c).email, c.*, e from customers c, lateral (select c.email as e) l",
    "select * from customers join orders using (id)",
    "select * from customers join people using (id)",
    "select * from people natural join customers",
    "select * from people p join customers c using (email, id) join orders o using (id)",
    "select p.*, c.* from people p join customers c using (email)",
    "select * from (people join customers using (id)) j",
    "with x(a, b) as (select 1, 2) select * from x",
    "select * from (values (1, 'a')) v",
    "select u, g from customers c, unnest(array[c.email]) u, generate_series(1, 2) g",
]


@pytest.fixture(scope="module")
def server(pg_server: PgServer) -> Iterator[psycopg.Connection]:
    with temp_database(pg_server, prefix="veil_names") as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table customers (id int, name text, email text, ssn text)")
        conn.execute("create table orders (id int, customer_id int, total numeric, note text)")
        conn.execute("create table people (email text, id int)")
        yield conn


@pytest.mark.parametrize("sql", NAMED)
def test_output_names_match_postgresql(server: psycopg.Connection, sql: str) -> None:
    """The planner matches lineage to RowDescription by name, so names must be PostgreSQL's."""
    expected = [d.name for d in server.execute(sql).description or ()]
    assert [o.name for o in lineage(sql, CATALOG)] == expected
