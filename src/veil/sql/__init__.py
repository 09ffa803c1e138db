"""SQL analysis with PostgreSQL's own parser (pglast): pure functions, no I/O.

``analyze`` classifies statements for the policy engine (``read_only_violations``
is the read-only check in one call), ``normalize`` and ``fingerprint`` give the
audit trail literal-free SQL, ``strip_reason_comment`` takes a leading
``/* veil.reason: ... */`` off, ``lineage`` maps each output column of a read to
the source columns it derives from (for masking) and ``predicates`` lists the
columns a statement filters or sorts on (for the inference guard).
"""

from veil.sql.catalog import EMPTY_CATALOG, Catalog, InMemoryCatalog
from veil.sql.classify import READ_ONLY_KINDS, Analyzer, analyze, analyze_uncached, read_only_violations
from veil.sql.functions import DANGEROUS_FUNCTIONS, PROTECTED_SETTINGS, denied, is_dangerous
from veil.sql.lineage import OutputLineage, PredicateUse, TooComplexError, lineage, lineage_all, predicates
from veil.sql.normalize import fingerprint, normalize, strip_reason_comment
from veil.sql.views import tables_behind

__all__ = [
    "DANGEROUS_FUNCTIONS",
    "EMPTY_CATALOG",
    "PROTECTED_SETTINGS",
    "READ_ONLY_KINDS",
    "Analyzer",
    "Catalog",
    "InMemoryCatalog",
    "OutputLineage",
    "PredicateUse",
    "TooComplexError",
    "analyze",
    "analyze_uncached",
    "denied",
    "fingerprint",
    "is_dangerous",
    "lineage",
    "lineage_all",
    "normalize",
    "predicates",
    "read_only_violations",
    "strip_reason_comment",
    "tables_behind",
]
