"""How an expression's value relates to the source columns it is computed from.

Masking needs two things per output column: *which* source columns it comes from,
and whether the value still has the source's shape.  ``upper(email)`` is still an
email (mask it as one); ``md5(email)`` or ``substr(ssn, 1, 3)`` are not, but they
still carry information about the source, so they are redacted; ``row_to_json(c)``
embeds every column of ``c`` verbatim.  The order of ``Transform`` is "how far from
the source value": combining derivations keeps the furthest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Transform(IntEnum):
    NONE = 0  # no source column (constants, parameters, current_user)
    IDENTITY = 1  # the source value itself
    CAST = 2  # the source value as another type (text rendering of the same value)
    CASE_CHANGE = 3  # upper/lower/initcap/trim: same value, same shape
    EMBEDDED = 4  # source values verbatim inside a bigger value (json, arrays, rows, concatenation)
    TRANSFORMED = 5  # computed from the source; shape lost (substr, md5, encode, arithmetic, ...)

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


SHAPE_KEEPING = frozenset({Transform.IDENTITY, Transform.CAST, Transform.CASE_CHANGE})

# Same value, same shape.
CASE_FUNCTIONS = frozenset({"upper", "lower", "initcap", "btrim", "ltrim", "rtrim", "trim", "normalize",
                            "unaccent"})
# The result is one of the arguments (or NULL).
PASS_THROUGH = frozenset({"coalesce", "nullif", "greatest", "least", "min", "max", "any_value", "mode",
                          "first_value", "last_value", "nth_value", "lag", "lead", "percentile_disc",
                          "unnest"})
# The arguments appear verbatim inside the result.
EMBEDDING = frozenset({
    "row_to_json", "to_json", "to_jsonb", "json_build_object", "jsonb_build_object", "json_build_array",
    "jsonb_build_array", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "json_object",
    "jsonb_object", "array_agg", "string_agg", "array_to_string", "array_to_json", "concat", "concat_ws",
    "format", "row", "array_append", "array_prepend", "array_cat", "jsonb_set", "json_strip_nulls",
    "jsonb_strip_nulls", "jsonb_pretty", "xmlelement", "xmlforest", "xmlagg", "hstore", "to_tsvector",
})
# The result carries nothing of the arguments' content.
OPAQUE = frozenset({"count", "pg_typeof", "num_nulls", "num_nonnulls", "row_number", "rank", "dense_rank",
                    "percent_rank", "cume_dist", "ntile", "pg_column_size"})


@dataclass(frozen=True, slots=True)
class Derivation:
    """Where a value comes from: source ``schema.table.column``s and how far it moved."""

    sources: frozenset[str] = frozenset()
    transform: Transform = Transform.NONE
    unknown: bool = False  # part of it could not be resolved (unknown table, column or function output)

    def via(self, transform: Transform) -> Derivation:
        """This value after a step of kind ``transform`` (never moves it closer to the source)."""
        if not self.sources:
            return self
        return Derivation(self.sources, max(self.transform, transform), self.unknown)


NOTHING = Derivation()
UNKNOWN = Derivation(unknown=True)


def combine(parts: list[Derivation] | tuple[Derivation, ...]) -> Derivation:
    """A value that may be any of ``parts`` (or is built from all of them)."""
    sources: set[str] = set()
    transform = Transform.NONE
    unknown = False
    for part in parts:
        sources |= part.sources
        if part.sources:
            transform = max(transform, part.transform)
        unknown = unknown or part.unknown
    return Derivation(frozenset(sources), transform, unknown)


def function_step(name: str) -> Transform | None:
    """The transform a function applies to its arguments; None for "no content kept"."""
    bare = name.rsplit(".", 1)[-1]
    if bare in OPAQUE:
        return None
    if bare in PASS_THROUGH:
        return Transform.IDENTITY
    if bare in CASE_FUNCTIONS:
        return Transform.CASE_CHANGE
    if bare in EMBEDDING:
        return Transform.EMBEDDED
    return Transform.TRANSFORMED
