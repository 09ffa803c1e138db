"""Column classification: name + PostgreSQL type + a sample of values -> types with confidence and why.

One value can be a coincidence; a column is consistent.  A type found in most sampled
cells (or in enough of them when the name agrees) is promoted to the whole column; a
type found in a few cells of an otherwise clean column is demoted to nothing.  Columns
of prose ("free text") keep span-level findings instead of a whole-column type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from veil.detect.hints import NameHints, TypeGuess, analyze_name
from veil.detect.registry import default_scanner
from veil.detect.scanner import Scanner

# PostgreSQL types whose values cannot hold our types (dates only as a date of birth by name)
_OPAQUE = frozenset(
    {
        "boolean",
        "bool",
        "uuid",
        "timestamp",
        "timestamptz",
        "timestamp without time zone",
        "timestamp with time zone",
        "time",
        "timetz",
        "interval",
        "bytea",
        "oid",
        "xid",
        "tsvector",
        "regclass",
        "pg_lsn",
        "money",
        "real",
        "double precision",
        "float4",
        "float8",
        "smallint",
        "int2",
    }
)
_DATES = frozenset(
    {"date", "timestamp", "timestamptz", "timestamp without time zone", "timestamp with time zone"}
)
_NATIVE = {"inet": "ip_address", "cidr": "ip_address", "macaddr": "mac_address", "macaddr8": "mac_address"}

_WHOLE = 0.8  # a finding covering this share of a cell classifies the cell
_PROMOTE = 0.5  # share of cells that makes a type the column's, on values alone
_PROMOTE_HINTED = 0.2  # ... when the name agrees
_FREE_TEXT_WORDS = 4.0
_FREE_TEXT_CHARS = 25.0


@dataclass(frozen=True, slots=True)
class ColumnClassification:
    """What a column holds. ``free_text`` columns get span-level masking; ``clean`` ones none."""

    types: tuple[TypeGuess, ...]
    free_text: bool
    clean: bool
    sampled: int = 0

    @property
    def primary(self) -> str | None:
        """The most likely type, or None when clean."""
        return self.types[0].type if self.types else None


def classify_column(
    name: str, pg_type: str | None, sample: Sequence[str | None], *, scanner: Scanner | None = None
) -> ColumnClassification:
    """Classify one column from its name, PostgreSQL type name and sampled text values."""
    hints = analyze_name(name)
    pg = (pg_type or "").strip().lower()
    values = [v for v in sample if v is not None and v.strip()]
    if pg in _NATIVE:
        guess = _native(_NATIVE[pg], hints)
        return ColumnClassification((guess,), False, False, len(values))
    if pg in _OPAQUE or (pg.endswith("[]") and pg[:-2] in _OPAQUE):
        kept = tuple(g for g in hints.guesses if g.type == "date_of_birth" and pg in _DATES)
        return _result(kept, False, len(values))
    if not values:
        return _result(hints.guesses, False, 0)
    scanner = scanner or default_scanner()
    whole: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    words = chars = 0
    for value in values:
        stripped = value.strip()
        words += len(stripped.split())
        chars += len(stripped)
        findings = scanner.scan(value, column=name)
        anywhere.update({f.type for f in findings})
        whole.update({f.type for f in findings if (f.end - f.start) >= _WHOLE * len(stripped)})
    n = len(values)
    free_text = words / n >= _FREE_TEXT_WORDS and chars / n >= _FREE_TEXT_CHARS
    counts = anywhere if free_text else whole
    guesses = [
        g
        for t in sorted(set(counts) | {g.type for g in hints.guesses})
        if (g := _judge(t, counts[t] / n, hints, free_text)) is not None
    ]
    return _result(tuple(guesses), free_text, n)


def _judge(type_name: str, share: float, hints: NameHints, free_text: bool) -> TypeGuess | None:
    hinted = hints.confidence(type_name)
    why = "both" if hinted and share else ("values" if share else "name")
    if free_text:
        if not share:
            return None
        return TypeGuess(type_name, round(min(0.99, 0.5 + share / 2 + 0.3 * hinted), 3), why, round(share, 3))
    if share >= _PROMOTE or (hinted and share >= _PROMOTE_HINTED):
        confidence = min(0.99, 0.45 + 0.5 * share + 0.3 * hinted)
        return TypeGuess(type_name, round(confidence, 3), why, round(share, 3))
    return None  # demoted: values do not bear the type (or the name) out


def _native(type_name: str, hints: NameHints) -> TypeGuess:
    return TypeGuess(type_name, 0.99, "both" if hints.confidence(type_name) else "values", 1.0)


def _result(guesses: tuple[TypeGuess, ...], free_text: bool, sampled: int) -> ColumnClassification:
    ordered = tuple(sorted(guesses, key=lambda g: (-g.confidence, g.type)))
    return ColumnClassification(ordered, free_text, not ordered, sampled)
