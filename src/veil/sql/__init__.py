"""SQL analysis with PostgreSQL's own parser (pglast): pure functions, no I/O.

``analyze`` classifies statements for the policy engine, ``normalize`` and
``fingerprint`` give the audit trail literal-free SQL, ``strip_reason_comment``
takes a leading ``/* veil.reason: ... */`` off, and ``lineage`` maps each output
column of a read to the source columns it derives from (for masking).
"""

from veil.sql.classify import READ_ONLY_KINDS, Analyzer, analyze, analyze_uncached, read_only_violations
from veil.sql.functions import DANGEROUS_FUNCTIONS, PROTECTED_SETTINGS, denied, is_dangerous
from veil.sql.normalize import fingerprint, normalize, strip_reason_comment

__all__ = [
    "DANGEROUS_FUNCTIONS",
    "PROTECTED_SETTINGS",
    "READ_ONLY_KINDS",
    "Analyzer",
    "analyze",
    "analyze_uncached",
    "denied",
    "fingerprint",
    "is_dangerous",
    "normalize",
    "read_only_violations",
    "strip_reason_comment",
]
