"""Expression -> ``Derivation``: the per-node rules of lineage (see derivation.py for the kinds).

Anything not recognised is treated as TRANSFORMED over every column it mentions:
unknown constructs can only make masking stricter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pglast import ast
from pglast.enums import A_Expr_Kind

from veil.sql.derivation import NOTHING, UNKNOWN, Derivation, Transform, combine, function_step
from veil.sql.nodes import children, function_name
from veil.sql.scope import Scope, qualified

_CASTING_FUNCTIONS = frozenset({"text", "varchar", "bpchar", "to_char", "cast"})



class ExpressionMixin(ABC):
    """Derivation rules; the engine supplies ``sublink``, ``use`` and ``predicate``."""

    @abstractmethod
    def sublink(self, link: ast.SubLink, scope: Scope) -> Derivation:
        """The derivation of a subquery expression (the engine resolves its scope)."""

    @abstractmethod
    def use(self, derived: Derivation, clause: str, *, equality: bool) -> None:
        """Record that ``derived`` is used in ``clause`` (for the inference guard)."""

    @abstractmethod
    def predicate(self, expr: Any, scope: Scope, clause: Any) -> None:
        """Walk a WHERE/JOIN/HAVING expression for predicate uses."""

    # -------------------------------------------------------------------------------
    def derive(self, expr: Any, scope: Scope) -> Derivation:
        """How the value of ``expr`` derives from source columns."""
        if expr is None or isinstance(expr, (ast.A_Const, ast.ParamRef, ast.SQLValueFunction, ast.String,
                                             ast.Integer, ast.Float, ast.Boolean, ast.GroupingFunc)):
            return NOTHING
        if isinstance(expr, ast.ColumnRef):
            return self.column_ref(expr, scope)
        if isinstance(expr, ast.TypeCast):
            inner = self.derive(expr.arg, scope)
            return inner.via(Transform.CAST)
        if isinstance(expr, ast.CollateClause):
            return self.derive(expr.arg, scope)
        if isinstance(expr, ast.FuncCall):
            return self.function(expr, scope)
        if isinstance(expr, ast.A_Expr):
            return self.operator(expr, scope)
        if isinstance(expr, (ast.CoalesceExpr, ast.MinMaxExpr)):
            return combine([self.derive(a, scope) for a in expr.args or ()])
        if isinstance(expr, (ast.A_ArrayExpr, ast.RowExpr)):
            items = expr.elements if isinstance(expr, ast.A_ArrayExpr) else expr.args
            return combine([self.derive(a, scope) for a in items or ()]).via(Transform.EMBEDDED)
        if isinstance(expr, ast.CaseExpr):
            return self.case(expr, scope)
        if isinstance(expr, ast.SubLink):
            return self.sublink(expr, scope)
        if isinstance(expr, ast.A_Indirection):
            return self.indirection(expr, scope)
        return combine([self.derive(c, scope) for c in children(expr)]).via(Transform.TRANSFORMED)

    def derive_output(self, expr: Any, scope: Scope) -> Derivation:
        """Like ``derive``, but a bare name or position may mean an output column (ORDER BY/GROUP BY)."""
        fields: Any = getattr(expr, "fields", None) or ()
        if isinstance(expr, ast.ColumnRef) and len(fields) == 1 and isinstance(fields[0], ast.String):
            found = scope.output(str(fields[0].sval))
            if found is not None:
                return found
        if isinstance(expr, ast.A_Const) and isinstance(expr.val, ast.Integer):
            index = int(expr.val.ival or 0) - 1
            if 0 <= index < len(scope.outputs):
                return scope.outputs[index][1]
        return self.derive(expr, scope)

    def column_ref(self, ref: ast.ColumnRef, scope: Scope) -> Derivation:
        fields = list(ref.fields or ())
        if isinstance(fields[-1], ast.A_Star):
            names = [getattr(f, "sval", "") for f in fields[:-1]]
            if not names:
                return combine([rel.whole() for rel in scope.rels]) if scope.rels else UNKNOWN
            rel = scope.rel(names[-1])
            return rel.whole() if rel is not None else UNKNOWN
        names = [getattr(f, "sval", "") for f in fields]
        if len(names) == 1:
            return scope.column(names[0])
        rel = scope.rel(names[-2])
        if rel is None and len(names) >= 3:
            rel = scope.rel_by_table(".".join(names[-3:-1]))
        if rel is not None:
            return qualified(rel, names[-1])
        # composite field access: (col).field keeps the column's sources
        return scope.column(names[0]).via(Transform.TRANSFORMED)

    def function_label(self, call: ast.FuncCall) -> str:
        return function_name(call).rsplit(".", 1)[-1]

    def function(self, call: ast.FuncCall, scope: Scope) -> Derivation:
        name = self.function_label(call)
        if call.agg_filter is not None:
            self.predicate(call.agg_filter, scope, "filter")
        if call.over is not None:
            self.window(call.over, scope)
        for sort in call.agg_order or ():
            self.use(self.derive(sort.node, scope), "order by", equality=False)
        step = function_step(name)
        args = [self.derive(a, scope) for a in call.args or ()]
        if step is None or call.agg_star:
            return NOTHING
        if name in _CASTING_FUNCTIONS and len(args) == 1:
            step = Transform.CAST
        return combine(args).via(step)

    def window(self, window: ast.WindowDef, scope: Scope) -> None:
        for part in window.partitionClause or ():
            self.use(self.derive(part, scope), "window", equality=True)
        for sort in window.orderClause or ():
            self.use(self.derive(sort.node, scope), "window", equality=False)

    def operator(self, expr: ast.A_Expr, scope: Scope) -> Derivation:
        right = expr.rexpr if isinstance(expr.rexpr, (tuple, list)) else [expr.rexpr]
        parts = [self.derive(expr.lexpr, scope), *(self.derive(r, scope) for r in right)]
        op = getattr((expr.name or (None,))[-1], "sval", "")
        if expr.kind == A_Expr_Kind.AEXPR_NULLIF:
            return combine(parts)
        if expr.kind == A_Expr_Kind.AEXPR_OP and op == "||":
            return combine(parts).via(Transform.EMBEDDED)
        return combine(parts).via(Transform.TRANSFORMED)

    def case(self, expr: ast.CaseExpr, scope: Scope) -> Derivation:
        results = [self.derive(w.result, scope) for w in expr.args or ()]
        results.append(self.derive(expr.defresult, scope))
        conditions = [self.derive(w.expr, scope) for w in expr.args or ()]
        if expr.arg is not None:
            conditions.append(self.derive(expr.arg, scope))
        for when in expr.args or ():
            self.predicate(when.expr, scope, "case")
        return combine([*results, *(c.via(Transform.TRANSFORMED) for c in conditions)])

    def indirection(self, expr: ast.A_Indirection, scope: Scope) -> Derivation:
        fields = [getattr(i, "sval", None) for i in expr.indirection or ()]
        arg = expr.arg
        arg_fields: Any = getattr(arg, "fields", None) or ()
        if (isinstance(arg, ast.ColumnRef) and len(arg_fields) == 1 and fields and fields[0]
                and (rel := scope.rel(getattr(arg_fields[0], "sval", ""))) is not None):
            return qualified(rel, fields[0])  # (t).col
        inner = self.derive(arg, scope)
        return inner if all(f is None for f in fields) else inner.via(Transform.TRANSFORMED)

    def column_name(self, expr: Any) -> str:
        """The output column name PostgreSQL would choose (FigureColname, simplified)."""
        if isinstance(expr, ast.ColumnRef):
            last = (expr.fields or (None,))[-1]
            return str(getattr(last, "sval", "?column?"))
        if isinstance(expr, ast.FuncCall):
            return self.function_label(expr)
        if isinstance(expr, ast.TypeCast):
            inner = self.column_name(expr.arg)
            if inner != "?column?":
                return inner
            names = expr.typeName.names if expr.typeName is not None else ()
            return str(getattr(names[-1], "sval", "?column?")) if names else "?column?"
        if isinstance(expr, ast.CoalesceExpr):
            return "coalesce"
        if isinstance(expr, ast.MinMaxExpr):
            return "greatest" if getattr(expr.op, "name", "") == "IS_GREATEST" else "least"
        if isinstance(expr, ast.A_Expr) and expr.kind == A_Expr_Kind.AEXPR_NULLIF:
            return "nullif"
        if isinstance(expr, ast.SQLValueFunction):
            # SVFOP_CURRENT_TIMESTAMP_N -> current_timestamp, as PostgreSQL names the column
            return str(getattr(expr.op, "name", "?column?")).removeprefix("SVFOP_").removesuffix("_N").lower()
        if isinstance(expr, ast.CaseExpr):
            return "case"
        if isinstance(expr, ast.A_Indirection):
            last = (expr.indirection or (None,))[-1]
            return str(getattr(last, "sval", None) or self.column_name(expr.arg))
        link_type = getattr(getattr(expr, "subLinkType", None), "name", "")
        if isinstance(expr, ast.SubLink) and link_type in ("EXPR_SUBLINK", "ARRAY_SUBLINK"):
            sub = expr.subselect
            if isinstance(sub, ast.SelectStmt) and sub.targetList:
                target = sub.targetList[0]
                name = target.name or self.column_name(target.val)
                return "array" if link_type == "ARRAY_SUBLINK" else name
        if isinstance(expr, ast.SubLink) and link_type == "EXISTS_SUBLINK":
            return "exists"
        if isinstance(expr, ast.A_ArrayExpr):
            return "array"
        if isinstance(expr, ast.RowExpr):
            return "row"
        return "?column?"

