"""Walk a query tree and collect what it touches: tables, functions, writes hidden inside.

The walk is scope-aware for CTEs: ``WITH secret AS (...)`` only shadows the table
``secret`` inside the statement that declares it (and, unless ``RECURSIVE``, only in
the CTEs after it).  A flat "every CTE name anywhere" approximation would let
``SELECT * FROM (WITH secret AS (SELECT 1) SELECT 1) a, secret`` read the real
table unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.enums import LockClauseStrength

from veil.sql.functions import is_dangerous
from veil.sql.nodes import children, function_name, relation_name
from veil.sql.settings import Setting, set_config_call

_DML = {ast.InsertStmt: "INSERT", ast.UpdateStmt: "UPDATE", ast.DeleteStmt: "DELETE", ast.MergeStmt: "MERGE"}
_LOCKS = {
    LockClauseStrength.LCS_FORKEYSHARE: "FOR KEY SHARE",
    LockClauseStrength.LCS_FORSHARE: "FOR SHARE",
    LockClauseStrength.LCS_FORNOKEYUPDATE: "FOR NO KEY UPDATE",
    LockClauseStrength.LCS_FORUPDATE: "FOR UPDATE",
}


@dataclass
class Facts:
    """What one statement touches; filled by ``Collector``."""

    tables_read: set[str] = field(default_factory=set)
    tables_written: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    writes: bool = False  # a data-modifying statement or row lock somewhere inside
    creates: bool = False  # SELECT INTO

    def reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)


class Collector:
    """Collects ``Facts`` from any statement subtree (SELECT, DML, COPY's query, ...)."""

    def __init__(self) -> None:
        self.facts = Facts()

    def visit(self, node: Any, ctes: frozenset[str] = frozenset(), *, nested_dml: bool = False) -> None:
        """Visit ``node`` with ``ctes`` visible; ``nested_dml`` marks DML inside a query."""
        stack: list[tuple[Any, frozenset[str]]] = [(node, ctes)]
        while stack:
            current, scope = stack.pop()
            if isinstance(current, (ast.SelectStmt, *_DML)):
                self._statement(current, scope, nested_dml=nested_dml or current is not node)
                continue
            self._leaf(current, scope)
            stack.extend((child, scope) for child in children(current))

    def _statement(self, stmt: Any, outer: frozenset[str], *, nested_dml: bool) -> None:
        scope = self._with(stmt.withClause, outer)
        if isinstance(stmt, ast.SelectStmt):
            self._select(stmt)
        else:
            self._dml(stmt, scope, nested=nested_dml)
        for attr in type(stmt).__slots__:
            if attr in ("withClause", "relation", "intoClause"):
                continue
            value = getattr(stmt, attr, None)
            if isinstance(value, (ast.Node, tuple, list)):
                for child in children(value) if not isinstance(value, ast.Node) else (value,):
                    self.visit(child, scope, nested_dml=True)

    def _with(self, clause: ast.WithClause | None, outer: frozenset[str]) -> frozenset[str]:
        if clause is None:
            return outer
        names = [cte.ctename for cte in clause.ctes or ()]
        visible = outer
        for cte in clause.ctes or ():
            body_scope = outer | frozenset(names) if clause.recursive else visible
            self.visit(cte.ctequery, body_scope, nested_dml=True)
            visible = visible | {cte.ctename}
        return outer | frozenset(names)

    def _select(self, stmt: ast.SelectStmt) -> None:
        if stmt.intoClause is not None:
            self.facts.creates = True
            self.facts.reason("SELECT INTO creates a table")
            self.facts.tables_written.add(relation_name(stmt.intoClause.rel))
        for lock in stmt.lockingClause or ():
            self.facts.writes = True
            self.facts.reason(f"SELECT ... {_LOCKS.get(lock.strength, 'FOR UPDATE')} locks rows")

    def _dml(self, stmt: Any, scope: frozenset[str], *, nested: bool) -> None:
        command = _DML[type(stmt)]
        self.facts.writes = True
        self.facts.tables_written.add(relation_name(stmt.relation))
        if nested:
            self.facts.reason(f"data-modifying WITH ({command}) writes data")
        else:
            self.facts.reason(f"{command} writes data")

    def _leaf(self, node: Any, scope: frozenset[str]) -> None:
        if isinstance(node, ast.RangeVar):
            if node.schemaname is None and node.relname in scope:
                return  # a CTE reference, not a table
            self.facts.tables_read.add(relation_name(node))
        elif isinstance(node, ast.FuncCall):
            self.function(node)

    def function(self, call: ast.FuncCall) -> None:
        """Record a function call and the read-only reasons it brings."""
        name = function_name(call)
        self.facts.functions.add(name)
        if name.rsplit(".", 1)[-1] == "set_config":
            setting, reason = set_config_call(call)
            if setting is not None:
                self.facts.settings.append(setting)
            if reason:
                self.facts.reason(reason)
        elif is_dangerous(name):
            self.facts.reason(f"calling {name}() is not allowed for read-only access")
