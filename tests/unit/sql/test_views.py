"""tables_behind: the relations a statement really reads through views."""

from __future__ import annotations

from veil.sql import InMemoryCatalog, tables_behind

CATALOG = InMemoryCatalog(
    tables={"public.creds": ["token"], "public.v1": ["token"], "public.v2": ["t"], "crm.people": ["email"],
            "public.loop_a": ["x"], "public.loop_b": ["x"]},
    views={
        "public.v1": "SELECT token FROM creds",
        "public.v2": "SELECT v1.token AS t FROM v1 JOIN crm.people p ON true",
        "public.loop_a": "SELECT x FROM loop_b",
        "public.loop_b": "SELECT x FROM loop_a",
    },
)


def test_views_expand_transitively() -> None:
    assert tables_behind(CATALOG, {"public.v2"}) == {"public.v2", "public.v1", "public.creds", "crm.people"}


def test_plain_tables_stay_and_cycles_end() -> None:
    assert tables_behind(CATALOG, {"public.creds"}) == {"public.creds"}
    assert tables_behind(CATALOG, {"public.loop_a"}) == {"public.loop_a", "public.loop_b"}
    assert tables_behind(CATALOG, set()) == frozenset()
