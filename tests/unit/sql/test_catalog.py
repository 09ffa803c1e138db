"""resolve_table: unqualified names resolve as the default search_path does."""

from __future__ import annotations

from veil.sql import InMemoryCatalog
from veil.sql.catalog import EMPTY_CATALOG, resolve_table

CATALOG = InMemoryCatalog(tables={"pg_catalog.pg_class": ["oid"], "public.pg_mine": ["x"], "public.t": ["a"]})


def test_qualified_names_are_kept() -> None:
    assert resolve_table(CATALOG, "crm", "leads") == "crm.leads"


def test_pg_catalog_first_then_public() -> None:
    assert resolve_table(CATALOG, None, "pg_class") == "pg_catalog.pg_class"
    assert resolve_table(CATALOG, None, "pg_mine") == "public.pg_mine"  # a user table named pg_*
    assert resolve_table(CATALOG, None, "t") == "public.t"


def test_unknown_names_fall_back_to_the_classification_guess() -> None:
    assert resolve_table(EMPTY_CATALOG, None, "pg_stat_activity") == "pg_catalog.pg_stat_activity"
    assert resolve_table(EMPTY_CATALOG, None, "orders") == "public.orders"
