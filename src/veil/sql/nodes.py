"""Small helpers over pglast's AST shared by classification and lineage.

pglast already folds unquoted identifiers to lower case and decodes ``U&"..."``
identifiers, so names taken from the tree are what PostgreSQL itself resolves:
``SELECT * FROM "Public"."T"`` reads ``Public.T``, ``public.t`` is something else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast

DEFAULT_SCHEMA = "public"
CATALOG_SCHEMA = "pg_catalog"


def children(node: Any) -> Iterator[Any]:
    """The direct child nodes of ``node`` (lists flattened, scalars skipped)."""
    if isinstance(node, ast.Node):
        for attr in type(node).__slots__:  # type: ignore[attr-defined]
            value = getattr(node, attr, None)
            if isinstance(value, ast.Node):
                yield value
            elif isinstance(value, (tuple, list)):
                yield from _flatten(value)
    elif isinstance(node, (tuple, list)):
        yield from _flatten(node)


def _flatten(items: tuple[Any, ...] | list[Any]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, ast.Node):
            yield item
        elif isinstance(item, (tuple, list)):
            yield from _flatten(item)


def walk(node: Any) -> Iterator[Any]:
    """Every node below (and including) ``node``, depth first.

    Iterative so a deeply nested statement cannot exhaust Python's recursion limit.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Node):
            yield current
        stack.extend(reversed(list(children(current))))


def default_schema_for(name: str) -> str:
    """The schema an unqualified relation name most likely resolves to.

    ``pg_catalog`` is always searched first, so unqualified ``pg_*`` names are
    system catalogs; everything else is taken as ``public`` (the default
    ``search_path``; read-only identities may not change it, see classify).
    """
    return CATALOG_SCHEMA if name.startswith("pg_") else DEFAULT_SCHEMA


def relation_name(rv: Any) -> str:
    """``schema.table`` for a RangeVar; the database part of a 3-part name is dropped."""
    relname = str(rv.relname or "")
    schema = rv.schemaname or default_schema_for(relname)
    return f"{schema}.{relname}"


def function_name(call: ast.FuncCall) -> str:
    """Lower-case function name; ``pg_catalog.`` stripped, other schemas kept."""
    parts = [getattr(p, "sval", "") for p in call.funcname or ()]
    if len(parts) > 1 and parts[0] == CATALOG_SCHEMA:
        parts = parts[1:]
    return ".".join(parts).lower()


def const_value(node: Any) -> str | int | float | bool | None:
    """The Python value of a constant (``A_Const`` or a bare value node), else None."""
    if isinstance(node, ast.TypeCast):
        return const_value(node.arg)
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return None
        node = node.val
    if isinstance(node, ast.String):
        return str(node.sval)
    if isinstance(node, ast.Integer):
        return int(node.ival or 0)
    if isinstance(node, ast.Float):
        return str(node.fval)
    if isinstance(node, ast.Boolean):
        return bool(node.boolval)
    return None


def is_constant(node: Any) -> bool:
    """Whether ``node`` is a literal (possibly cast), i.e. its value is known now."""
    if isinstance(node, ast.TypeCast):
        return is_constant(node.arg)
    return isinstance(node, (ast.A_Const, ast.String, ast.Integer, ast.Float, ast.Boolean))


_TRUE = {"on", "true", "yes", "1", "t", "tr", "tru", "y", "ye"}


def truthy(value: str | int | float | bool | None) -> bool | None:
    """PostgreSQL's boolean parsing of a setting value; None when it is not a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in {"off", "of", "false", "f", "fa", "fal", "fals", "no", "n", "0"}:
        return False
    return None
