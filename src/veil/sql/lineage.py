"""Lineage: for each output column of a statement, the source columns and how it was derived.

Content detection alone cannot see that ``encode(convert_to(ssn, 'UTF8'), 'hex')`` is
an SSN; lineage can.  It follows values through expressions, CTEs, subqueries,
joins (incl. USING), LATERAL, set-returning functions, aggregates, set operations,
views (expanded from the catalog's definitions) and whole-row references.

The same walk records the *predicates*: which source columns a statement filters,
joins, groups or sorts on, and whether only by equality, so a policy can refuse
``WHERE ssn LIKE '12%'`` (a binary search for a value it would mask).  Predicates
inside view definitions are the view owner's, not the user's, and are not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind, SetOperation, SubLinkType

from veil.errors import VeilError
from veil.sql.catalog import EMPTY_CATALOG, Catalog, resolve_table
from veil.sql.derivation import NOTHING, SHAPE_KEEPING, UNKNOWN, Derivation, Transform, combine
from veil.sql.expressions import ExpressionMixin
from veil.sql.nodes import children
from veil.sql.scope import Columns, Rel, Scope

MAX_VIEW_DEPTH = 8
_TESTING_LINKS = (SubLinkType.ANY_SUBLINK, SubLinkType.ALL_SUBLINK, SubLinkType.EXISTS_SUBLINK)
Clause = Literal["where", "join", "having", "order by", "group by", "filter", "case", "window"]


class TooComplexError(VeilError):
    """The statement is nested too deeply to follow; callers must fail closed."""


@dataclass(frozen=True, slots=True)
class OutputLineage:
    """One output column: its name, source ``schema.table.column``s, and the transform.

    ``transform``: ``identity`` | ``cast`` | ``case-change`` (mask as the source type),
    ``embedded`` (source values verbatim inside JSON/arrays/rows/concatenations),
    ``transformed`` (shape lost: redact), ``none`` (no source column).
    ``complete`` is False when part of it could not be resolved (no catalog entry,
    ``*`` of an unknown table): treat the column as possibly sensitive.
    """

    name: str
    sources: frozenset[str]
    transform: str
    complete: bool = True

    @property
    def keeps_shape(self) -> bool:
        return self.transform in {t.label for t in SHAPE_KEEPING}


@dataclass(frozen=True, slots=True)
class PredicateUse:
    """A source column used to filter, join, group or sort: ``equality`` if only compared with =/<>/IN."""

    column: str
    clause: str
    equality: bool


def _output(name: str, d: Derivation) -> OutputLineage:
    label = d.transform.label if d.sources else ("none" if not d.unknown else "unknown")
    return OutputLineage(name, d.sources, label, complete=not d.unknown)


class _Engine(ExpressionMixin):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.predicates: list[PredicateUse] = []
        self._views: list[str] = []

    # -- statements ---------------------------------------------------------------
    def statement(self, stmt: Any, parent: Scope | None = None,
                  ctes: dict[str, Columns] | None = None) -> Columns:
        ctes = dict(ctes or {})
        if isinstance(stmt, ast.SelectStmt):
            return self.select(stmt, parent, ctes)
        if isinstance(stmt, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)):
            return self.dml(stmt, parent, ctes)
        if isinstance(stmt, ast.CopyStmt):
            if stmt.query is not None:
                return self.statement(stmt.query, parent, ctes)
            if stmt.relation is not None and not stmt.is_from:
                rel = self.table_rel(stmt.relation, ctes)
                wanted = [getattr(a, "sval", "") for a in stmt.attlist or ()]
                return [(n, d) for n, d in rel.star() if not wanted or n in wanted]
        if isinstance(stmt, (ast.PrepareStmt, ast.DeclareCursorStmt)):
            return self.statement(stmt.query, parent, ctes)
        return []

    def with_clause(self, clause: ast.WithClause | None, parent: Scope | None,
                    ctes: dict[str, Columns]) -> None:
        if clause is None:
            return
        for cte in clause.ctes or ():
            query = cte.ctequery
            if clause.recursive and isinstance(query, ast.SelectStmt) and query.op != SetOperation.SETOP_NONE:
                ctes[cte.ctename] = self._rename(self.statement(query.larg, parent, ctes), cte.aliascolnames)
            ctes[cte.ctename] = self._rename(self.statement(query, parent, ctes), cte.aliascolnames)

    @staticmethod
    def _rename(columns: Columns, names: Sequence[Any] | None) -> Columns:
        new = [getattr(n, "sval", str(n)) for n in names or ()]
        return [(new[i] if i < len(new) else name, d) for i, (name, d) in enumerate(columns)]

    def select(self, stmt: ast.SelectStmt, parent: Scope | None, ctes: dict[str, Columns]) -> Columns:
        self.with_clause(stmt.withClause, parent, ctes)
        if stmt.op != SetOperation.SETOP_NONE:
            left = self.statement(stmt.larg, parent, ctes)
            right = self.statement(stmt.rarg, parent, ctes)
            merged = [(name, combine([d, right[i][1]]) if i < len(right) else d)
                      for i, (name, d) in enumerate(left)]
            self._sort(stmt, Scope(parent=parent, ctes=ctes, outputs=merged))
            return merged
        if stmt.valuesLists:
            values_scope = Scope(parent=parent, ctes=ctes)
            rows = [[self.derive(e, values_scope) for e in row] for row in stmt.valuesLists]
            width = max(len(r) for r in rows)
            return [(f"column{i + 1}", combine([r[i] for r in rows if i < len(r)])) for i in range(width)]
        scope = Scope(parent=parent, ctes=ctes)
        for item in stmt.fromClause or ():
            scope.rels.extend(self.from_item(item, scope))
        outputs: Columns = []
        for target in stmt.targetList or ():
            outputs.extend(self.target(target, scope))
        scope.outputs = outputs
        self.predicate(stmt.whereClause, scope, "where")
        self.predicate(stmt.havingClause, scope, "having")
        for group in stmt.groupClause or ():
            self.use(self.derive_output(group, scope), "group by", equality=True)
        for distinct in stmt.distinctClause or ():
            if isinstance(distinct, ast.Node):
                self.use(self.derive_output(distinct, scope), "group by", equality=True)
        for window in stmt.windowClause or ():
            self.window(window, scope)
        self._sort(stmt, scope)
        return outputs

    def _sort(self, stmt: ast.SelectStmt, scope: Scope) -> None:
        for sort in stmt.sortClause or ():
            self.use(self.derive_output(sort.node, scope), "order by", equality=False)

    def dml(self, stmt: Any, parent: Scope | None, ctes: dict[str, Columns]) -> Columns:
        self.with_clause(stmt.withClause, parent, ctes)
        scope = Scope(parent=parent, ctes=ctes)
        scope.rels.append(self.table_rel(stmt.relation, ctes))
        for item in [*(getattr(stmt, "fromClause", None) or ()), *(getattr(stmt, "usingClause", None) or ())]:
            scope.rels.extend(self.from_item(item, scope))
        source = getattr(stmt, "sourceRelation", None)
        if source is not None:
            scope.rels.extend(self.from_item(source, scope))
            self.predicate(stmt.joinCondition, scope, "join")
        select = getattr(stmt, "selectStmt", None)
        if select is not None:
            self.statement(select, scope, ctes)
        self.predicate(getattr(stmt, "whereClause", None), scope, "where")
        returning = getattr(stmt, "returningClause", None)
        outputs: Columns = []
        for target in (returning.exprs if returning is not None else None) or ():
            outputs.extend(self.target(target, scope))
        return outputs

    def target(self, target: ast.ResTarget, scope: Scope) -> Columns:
        value = target.val
        fields: Any = getattr(value, "fields", None) or (None,)
        if isinstance(value, ast.ColumnRef) and isinstance(fields[-1], ast.A_Star):
            names = [getattr(f, "sval", "") for f in fields[:-1]]
            if not names:
                return _visible(scope.rels)
            rel = scope.rel(names[-1]) if len(names) == 1 else scope.rel_by_table(".".join(names[-2:]))
            return rel.star() if rel is not None else [("*", UNKNOWN)]
        return [(target.name or self.column_name(value), self.derive(value, scope))]

    # -- FROM items ---------------------------------------------------------------
    def from_item(self, item: Any, scope: Scope) -> list[Rel]:
        if isinstance(item, ast.RangeVar):
            return [self.table_rel(item, scope.ctes)]
        if isinstance(item, ast.RangeSubselect):
            columns = self.statement(item.subquery, scope, scope.ctes)
            return [self._aliased(Rel(alias="", columns=columns), item.alias)]
        if isinstance(item, ast.RangeFunction):
            return [self.function_rel(item, scope)]
        if isinstance(item, ast.JoinExpr):
            return self.join(item, scope)
        if isinstance(item, ast.RangeTableSample):
            return self.from_item(item.relation, scope)
        derived = combine([self.derive(c, scope) for c in children(item)]).via(Transform.EMBEDDED)
        alias = getattr(getattr(item, "alias", None), "aliasname", "") or ""
        return [Rel(alias=alias, fallback=derived if derived.sources else UNKNOWN)]

    def table_rel(self, rv: Any, ctes: dict[str, Columns]) -> Rel:
        alias = str(rv.alias.aliasname if rv.alias is not None else rv.relname)
        if rv.schemaname is None and rv.relname in ctes:
            return self._aliased(Rel(alias=alias, columns=list(ctes[rv.relname])), rv.alias)
        table = resolve_table(self.catalog, rv.schemaname, str(rv.relname))
        names = self.catalog.columns(table)
        definition = self.catalog.view_definition(table)
        if definition is not None and table not in self._views and len(self._views) < MAX_VIEW_DEPTH:
            columns = self.view(table, definition)
            if names is not None:
                columns = [(n, columns[i][1] if i < len(columns) else UNKNOWN) for i, n in enumerate(names)]
            rel = Rel(alias=alias, table=table, columns=columns)
        elif names is not None:
            columns = [(n, Derivation(frozenset({f"{table}.{n}"}), Transform.IDENTITY)) for n in names]
            rel = Rel(alias=alias, table=table, columns=columns)
        else:
            rel = Rel(alias=alias, table=table)
        return self._aliased(rel, rv.alias)

    def view(self, table: str, definition: str) -> Columns:
        """A view's columns, derived from its definition; its own predicates are not the user's."""
        saved = self.predicates
        self.predicates = []
        self._views.append(table)
        try:
            stmts = pglast.parse_sql(definition)
            return self.statement(stmts[0].stmt) if stmts else []
        except Exception:
            return []
        finally:
            self._views.pop()
            self.predicates = saved

    def function_rel(self, item: ast.RangeFunction, scope: Scope) -> Rel:
        parts = []
        for entry in item.functions or ():
            call = entry[0] if isinstance(entry, (tuple, list)) else entry
            derived = self.derive(call, scope)
            if isinstance(call, ast.FuncCall) and self.function_label(call) == "unnest":
                derived = Derivation(derived.sources, min(derived.transform, Transform.IDENTITY)
                                     if derived.transform == Transform.EMBEDDED else derived.transform,
                                     derived.unknown)
            parts.append(derived)
        derived = combine(parts)
        names = [c.colname for c in item.coldeflist or ()]
        if item.alias is not None and item.alias.colnames:
            names = [getattr(n, "sval", "") for n in item.alias.colnames]
        alias = str(item.alias.aliasname) if item.alias is not None else self._function_alias(item)
        if names:
            return Rel(alias=alias, columns=[(n, derived) for n in names], fallback=derived)
        return Rel(alias=alias, columns=[(alias, derived)], fallback=derived)

    def _function_alias(self, item: ast.RangeFunction) -> str:
        entry = (item.functions or ((None,),))[0]
        call = entry[0] if isinstance(entry, (tuple, list)) else entry
        return self.function_label(call) if isinstance(call, ast.FuncCall) else ""

    def join(self, item: ast.JoinExpr, scope: Scope) -> list[Rel]:
        left = self.from_item(item.larg, scope)
        right = self.from_item(item.rarg, Scope(rels=[*scope.rels, *left], parent=scope.parent,
                                                ctes=scope.ctes))
        local = Scope(rels=[*scope.rels, *left, *right], parent=scope.parent, ctes=scope.ctes)
        self.predicate(item.quals, local, "join")
        left_cols, right_cols = _visible(left), _visible(right)
        using = [getattr(n, "sval", "") for n in item.usingClause or ()]
        if item.isNatural:
            right_names = {n for n, _ in right_cols}
            using = list(dict.fromkeys(n for n, _ in left_cols if n in right_names))
        if not using and item.alias is None:
            return [*left, *right]
        # PostgreSQL's order for "*": the merged USING columns, then the rest of each side
        merged_cols = []
        for name in using:
            merged = combine([self._side(left, name), self._side(right, name)])
            self.use(merged, "join", equality=True)
            merged_cols.append((name, merged))
        rest = [(n, d) for n, d in [*left_cols, *right_cols] if n not in using]
        joined = Rel(alias="", columns=[*merged_cols, *rest])
        if item.alias is not None:
            return [self._aliased(joined, item.alias)]
        for rel in (*left, *right):
            rel.in_star = False
        return [*left, *right, joined]

    @staticmethod
    def _side(rels: list[Rel], name: str) -> Derivation:
        found = [d for rel in rels if (d := rel.lookup(name) or rel.guess(name)) is not None]
        return combine(found) if found else NOTHING

    def _aliased(self, rel: Rel, alias: ast.Alias | None) -> Rel:
        if alias is None:
            return rel
        rel.alias = str(alias.aliasname or "")
        if alias.colnames and rel.columns is not None:
            rel.columns = self._rename(rel.columns, alias.colnames)
        return rel

    # -- predicates -----------------------------------------------------------------
    def predicate(self, expr: Any, scope: Scope, clause: Clause) -> None:
        """Record the columns ``expr`` filters on; equality only for =, <>, IN, IS [NOT] DISTINCT/NULL."""
        if expr is None:
            return
        if isinstance(expr, ast.BoolExpr):
            for arg in expr.args or ():
                self.predicate(arg, scope, clause)
            return
        if isinstance(expr, ast.A_Expr) and self._equality(expr):
            sides = [expr.lexpr, *(expr.rexpr if isinstance(expr.rexpr, (tuple, list)) else [expr.rexpr])]
            for side in sides:
                derived = self.derive(side, scope)
                self.use(derived, clause, equality=derived.transform in SHAPE_KEEPING)
            return
        if isinstance(expr, ast.SubLink) and expr.subLinkType in _TESTING_LINKS:
            self.sublink(expr, scope)  # records its own uses
            return
        if isinstance(expr, ast.NullTest):
            self.use(self.derive(expr.arg, scope), clause, equality=True)
            return
        self.use(self.derive(expr, scope), clause, equality=False)

    @staticmethod
    def _equality(expr: ast.A_Expr) -> bool:
        op = getattr((expr.name or (None,))[-1], "sval", "")
        if expr.kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            return True
        if expr.kind in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY):
            return op in {"=", "<>", "!="}
        return False

    def use(self, derived: Derivation, clause: str, *, equality: bool) -> None:
        for source in sorted(derived.sources):
            kept = equality and derived.transform in SHAPE_KEEPING
            self.predicates.append(PredicateUse(source, clause, kept))

    def sublink(self, link: ast.SubLink, scope: Scope) -> Derivation:
        columns = self.statement(link.subselect, scope, scope.ctes)
        first = columns[0][1] if columns else NOTHING
        if link.subLinkType == SubLinkType.EXPR_SUBLINK:
            return first
        if link.subLinkType == SubLinkType.ARRAY_SUBLINK:
            return first.via(Transform.EMBEDDED)
        tested = self.derive(link.testexpr, scope) if link.testexpr is not None else NOTHING
        if link.testexpr is not None:
            ops = [getattr(n, "sval", "") for n in link.operName or ()]
            equality = link.subLinkType == SubLinkType.ANY_SUBLINK and (not ops or ops[-1] in {"=", "<>"})
            self.use(tested, "where", equality=equality)
            self.use(first, "where", equality=equality)
        return combine([tested, first]).via(Transform.TRANSFORMED)


def _visible(rels: list[Rel]) -> Columns:
    """What an unqualified ``*`` over these FROM items expands to."""
    return [c for rel in rels if rel.in_star for c in rel.star()]


def _statements(sql: str) -> list[Any]:
    try:
        return [raw.stmt for raw in pglast.parse_sql(sql)]
    except Exception:
        return []


def lineage_all(sql: str, catalog: Catalog = EMPTY_CATALOG) -> list[list[OutputLineage]]:
    """``lineage`` for every statement of ``sql`` (one list per statement, in order).

    Raises ``TooComplexError`` when the statement is nested too deeply to follow.
    """
    try:
        return [[_output(n, d) for n, d in _Engine(catalog).statement(stmt)] for stmt in _statements(sql)]
    except RecursionError:
        raise TooComplexError("the statement is nested too deeply to follow its columns") from None


def lineage(sql: str, catalog: Catalog = EMPTY_CATALOG) -> list[OutputLineage]:
    """Per output column of the first statement: source columns and transform.

    Unparseable SQL gives ``[]``; a consumer must then treat every column as unknown.
    """
    found = lineage_all(sql, catalog)
    return found[0] if found else []


def predicates(sql: str, catalog: Catalog = EMPTY_CATALOG) -> list[PredicateUse]:
    """Source columns each statement of ``sql`` filters, joins, groups or sorts on (or TooComplexError)."""
    uses: list[PredicateUse] = []
    try:
        for stmt in _statements(sql):
            engine = _Engine(catalog)
            engine.statement(stmt)
            uses.extend(engine.predicates)
    except RecursionError:
        raise TooComplexError("the statement is nested too deeply to check its predicates") from None
    return list(dict.fromkeys(uses))
