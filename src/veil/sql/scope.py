"""Name resolution for lineage: which relation a column reference means.

A ``Rel`` is one FROM item as the query sees it (a table, view, CTE, subquery or
set-returning function) with its output columns' derivations.  Without a catalog a
table's columns are unknown; a reference is then attributed to the table by name,
and an unqualified one to every such table in scope (too many sources makes masking
stricter, never looser).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.sql.derivation import UNKNOWN, Derivation, Transform, combine

Columns = list[tuple[str, Derivation]]


@dataclass
class Rel:
    alias: str
    table: str | None = None  # "schema.table" for tables and views
    columns: Columns | None = None  # None: not known (table missing from the catalog)
    fallback: Derivation | None = None  # any name resolves to this (SRF without a column list)
    in_star: bool = True  # False once a USING/NATURAL join re-presents its columns (PostgreSQL's order)

    def lookup(self, name: str) -> Derivation | None:
        """The column ``name`` if this relation certainly has it."""
        if self.columns is not None:
            for column, derivation in self.columns:
                if column == name:
                    return derivation
        return None

    def guess(self, name: str, *, certain: bool = False) -> Derivation | None:
        """The column ``name`` if this relation might have it (unknown columns).

        ``certain``: nothing else could be meant (``t.name``, or the only relation of a
        query without outer scopes) - PostgreSQL either resolves it so or fails.
        """
        if self.columns is None and self.table is not None:
            return Derivation(frozenset({f"{self.table}.{name}"}), Transform.IDENTITY, unknown=not certain)
        if self.fallback is not None:
            return self.fallback
        return None

    def whole(self) -> Derivation:
        """The whole row (``t``, ``t.*`` as a value, ``row_to_json(t)``)."""
        if self.columns is None:
            if self.table is not None:
                return Derivation(frozenset({f"{self.table}.*"}), Transform.EMBEDDED, unknown=True)
            return (self.fallback or UNKNOWN).via(Transform.EMBEDDED)
        return combine([d for _, d in self.columns]).via(Transform.EMBEDDED)

    def star(self) -> Columns:
        """The columns ``*`` expands to (unknown columns: one placeholder marked unknown)."""
        if self.columns is None:
            if self.table is not None:
                return [("*", Derivation(frozenset({f"{self.table}.*"}), Transform.IDENTITY, unknown=True))]
            return [(self.alias, self.fallback or UNKNOWN)]
        return list(self.columns)


@dataclass
class Scope:
    rels: list[Rel] = field(default_factory=list)
    parent: Scope | None = None
    ctes: dict[str, Columns] = field(default_factory=dict)
    outputs: Columns = field(default_factory=list)  # for ORDER BY / GROUP BY output names

    def chain(self) -> list[Scope]:
        scopes: list[Scope] = []
        current: Scope | None = self
        while current is not None:
            scopes.append(current)
            current = current.parent
        return scopes

    def rel(self, alias: str) -> Rel | None:
        for scope in self.chain():
            for rel in reversed(scope.rels):
                if rel.alias == alias:
                    return rel
        return None

    def rel_by_table(self, table: str) -> Rel | None:
        for scope in self.chain():
            for rel in scope.rels:
                if rel.table == table:
                    return rel
        return None

    def column(self, name: str) -> Derivation:
        """An unqualified column reference, resolved the way PostgreSQL does (innermost first)."""
        for scope in self.chain():
            found = [d for rel in scope.rels if (d := rel.lookup(name)) is not None]
            if found:
                return combine(found)
            whole = [rel.whole() for rel in scope.rels if rel.alias == name]
            if whole:
                return whole[-1]
            alone = len(scope.rels) == 1 and scope.parent is None
            guesses = [d for rel in scope.rels if (d := rel.guess(name, certain=alone)) is not None]
            if guesses:
                return combine(guesses)
        return UNKNOWN

    def output(self, name: str) -> Derivation | None:
        for column, derivation in self.outputs:
            if column == name:
                return derivation
        return None


def qualified(rel: Rel | None, name: str) -> Derivation:
    """``rel.name``: its column, a guess for unknown columns, else UNKNOWN."""
    if rel is None:
        return UNKNOWN
    found = rel.lookup(name)
    if found is not None:
        return found
    guess = rel.guess(name, certain=True)
    return guess if guess is not None else UNKNOWN
