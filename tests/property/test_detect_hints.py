"""Name hints and the column classifier take any input: arbitrary names, types and samples."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from veil.detect import TYPES, classify_column, name_hints
from veil.detect.hints import tokenize


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_name(name: str) -> None:
    tokens = tokenize(name)
    assert all(t and t == t.lower() for t in tokens)
    guesses = name_hints(name)
    assert all(g.type in TYPES and 0 < g.confidence <= 1 and g.why == "name" for g in guesses)
    assert name_hints(name) == guesses  # deterministic


@settings(max_examples=60, deadline=None)
@given(
    st.text(max_size=30),
    st.sampled_from([None, "text", "integer", "uuid", "inet", "date", "jsonb", "character varying(20)"]),
    st.lists(st.one_of(st.none(), st.text(max_size=60)), max_size=20),
)
def test_any_column(name: str, pg_type: str | None, sample: list[str | None]) -> None:
    result = classify_column(name, pg_type, sample)
    assert result.clean == (not result.types)
    assert all(g.type in TYPES and 0 < g.confidence <= 1 for g in result.types)
    assert [g.confidence for g in result.types] == sorted((g.confidence for g in result.types), reverse=True)
    assert result.sampled <= len(sample)
