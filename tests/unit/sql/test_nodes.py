"""Small AST helpers: PostgreSQL's boolean spellings, constants, names."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from veil.sql.nodes import const_value, function_name, is_constant, relation_name, truthy, walk


@pytest.mark.parametrize(("value", "expected"), [
    ("on", True), ("ON", True), ("true", True), ("yes", True), ("1", True), (1, True), (True, True),
    ("t", True),
    ("off", False), ("of", False), ("false", False), ("no", False), ("0", False), (0, False), (False, False),
    ("o", None), ("maybe", None), (None, None), (1.5, None),
])
def test_truthy(value: object, expected: bool | None) -> None:
    assert truthy(value) is expected  # type: ignore[arg-type]


def _target(sql: str) -> object:
    return parse_sql(sql)[0].stmt.targetList[0].val  # type: ignore[union-attr]


def test_constants() -> None:
    assert const_value(_target("select 'x'")) == "x"
    assert const_value(_target("select 42")) == 42
    assert const_value(_target("select 'off'::text")) == "off"
    assert const_value(_target("select null")) is None
    assert is_constant(_target("select 'a'::text")) and not is_constant(_target("select a"))


def test_names() -> None:
    assert function_name(_target("select PG_CATALOG.LOWER(x)")) == "lower"  # type: ignore[arg-type]
    assert function_name(_target("select ext.dblink(x)")) == "ext.dblink"  # type: ignore[arg-type]
    stmt = parse_sql('select * from "Sales"."Q1", pg_class, t')[0].stmt
    assert [relation_name(rv) for rv in stmt.fromClause] == ["Sales.Q1", "pg_catalog.pg_class", "public.t"]


def test_walk_is_iterative_and_complete() -> None:
    deep = "select " + "(" * 500 + "1" + ")" * 500 + " from t where a = (select max(b) from u)"
    names = {type(n).__name__ for n in walk(parse_sql(deep)[0].stmt)}
    assert {"SelectStmt", "RangeVar", "SubLink", "FuncCall", "A_Const"} <= names
