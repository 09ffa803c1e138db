"""What lineage needs to know about the database: table columns and view definitions.

A protocol, so ``veil.sql`` stays pure: tests use ``InMemoryCatalog``; the proxy
loads one from ``pg_catalog`` (``veil.pipeline.authorize.load_catalog``).  Names are
``schema.table`` exactly as PostgreSQL stores them (unquoted identifiers lower case).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from veil.sql.nodes import CATALOG_SCHEMA, DEFAULT_SCHEMA


class Catalog(Protocol):
    """Read-only view of the relations lineage can see through."""

    def columns(self, table: str) -> Sequence[str] | None:
        """Column names of ``schema.table`` (a table, view or materialized view) in order; None if unknown."""
        ...

    def view_definition(self, table: str) -> str | None:
        """The SELECT behind the view ``schema.table``; None for tables and unknown names."""
        ...


@dataclass(frozen=True)
class InMemoryCatalog:
    """A ``Catalog`` from plain mappings (tests, ``veil policy explain`` with a fixed schema)."""

    tables: Mapping[str, Sequence[str]] = field(default_factory=dict)
    views: Mapping[str, str] = field(default_factory=dict)  # name -> SELECT; columns also in ``tables``

    def columns(self, table: str) -> Sequence[str] | None:
        return self.tables.get(table)

    def view_definition(self, table: str) -> str | None:
        return self.views.get(table)


EMPTY_CATALOG = InMemoryCatalog()


def resolve_table(catalog: Catalog, schema: str | None, name: str) -> str:
    """``schema.table`` for a name as written, using the catalog for unqualified names.

    Unqualified names are looked up the way the default ``search_path`` does:
    ``pg_catalog`` first, then ``public``.  Unknown names fall back to the same
    guess classification makes (``pg_*`` -> pg_catalog, else public).
    """
    if schema:
        return f"{schema}.{name}"
    for candidate in (CATALOG_SCHEMA, DEFAULT_SCHEMA):
        qualified = f"{candidate}.{name}"
        if catalog.columns(qualified) is not None:
            return qualified
    return f"{CATALOG_SCHEMA if name.startswith('pg_') else DEFAULT_SCHEMA}.{name}"
