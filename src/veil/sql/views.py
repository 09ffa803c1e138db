"""The tables behind views: table rules apply to what a statement really reads.

``tables: {deny: [public.api_credentials]}`` must also refuse ``SELECT * FROM v``
when ``v`` is a view over ``api_credentials``.  ``analyze`` knows nothing of views
(it is catalog-free), so the authorizer widens each statement's ``tables_read``
with this closure over the catalog's view definitions.
"""

from __future__ import annotations

from collections.abc import Iterable

from veil.sql.catalog import Catalog
from veil.sql.classify import analyze

MAX_VIEW_DEPTH = 16


def tables_behind(catalog: Catalog, tables: Iterable[str]) -> frozenset[str]:
    """``tables`` plus every relation the views among them read, transitively (cycles and depth bounded)."""
    seen: set[str] = set()
    frontier = [(t, 0) for t in tables]
    while frontier:
        table, depth = frontier.pop()
        if table in seen:
            continue
        seen.add(table)
        definition = catalog.view_definition(table)
        if definition is None or depth >= MAX_VIEW_DEPTH:
            continue
        for info in analyze(definition):
            frontier.extend((t, depth + 1) for t in info.tables_read if t not in seen)
    return frozenset(seen)
