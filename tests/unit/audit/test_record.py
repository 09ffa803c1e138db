"""Canonical JSON (RFC 8785 style): the leaf bytes a verifier elsewhere must rebuild."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.audit.record import EventTemplate, _encode, canonical_json, es6_number
from veil.errors import AuditError


@pytest.mark.parametrize(("value", "text"), [
    (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-1.5, "-1.5"), (123.456, "123.456"),
    (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"), (0.000001, "0.000001"),
    (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (333333333.33333329, "333333333.3333333"), (4.5e-7, "4.5e-7"), (9007199254740993.0, "9007199254740992"),
])
def test_numbers_use_the_ecmascript_form(value: float, text: str) -> None:
    assert es6_number(value) == text
    assert canonical_json([value]) == f"[{text}]".encode()


def test_keys_sort_by_utf16_code_units_as_rfc8785_shows() -> None:
    # RFC 8785 section 3.2.3's example: the astral U+1F600 sorts before U+FB33 in UTF-16.
    obj = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
           "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
           "\u00f6": "Latin Small Letter O"}
    out = canonical_json(obj).decode()
    order = [k for k in json.loads(out)]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_strings_escape_minimally_and_keep_utf8() -> None:
    assert canonical_json({"b": "\u000f\n\"\\é€", "a": [True, None, 1]}) == \
        '{"a":[true,null,1],"b":"\\u000f\\n\\"\\\\é€"}'.encode()


@pytest.mark.parametrize("bad", [math.nan, math.inf, b"raw", {1: "x"}, {"s": {1, 2}}, "\ud800"])
def test_what_json_cannot_hold_is_refused(bad: object) -> None:
    with pytest.raises(AuditError):
        canonical_json({"v": bad} if not isinstance(bad, dict) else bad)


def test_nesting_is_bounded() -> None:
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(AuditError):
        canonical_json(deep)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_fast_path_equals_the_reference_encoder(value: object) -> None:
    try:
        fast = canonical_json(value)
    except AuditError:  # lone surrogates in generated text
        return
    assert fast == _encode(value).encode("utf-8")
    assert json.loads(fast) == value


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_form_round_trips(value: float) -> None:
    text = es6_number(value)
    assert float(text) == value or (value == 0 and text == "0")


event_members = st.dictionaries(st.text(max_size=8), json_values | st.floats(allow_nan=False), max_size=6)


@settings(max_examples=200, deadline=None)
@given(event_members, event_members)
def test_a_template_renders_exactly_the_canonical_event(fixed: dict[str, object],
                                                        varying: dict[str, object]) -> None:
    varying = {k: v for k, v in varying.items() if k not in fixed}
    try:
        whole = canonical_json({**fixed, **varying})
    except AuditError:  # lone surrogates in generated text: the template must refuse them too
        with pytest.raises(AuditError):
            EventTemplate(fixed, varying).render(varying)
        return
    assert EventTemplate(fixed, varying).render(varying) == whole


def test_template_holes_survive_percent_signs_and_wide_integers() -> None:
    template = EventTemplate({"sql": "SELECT 100% FROM t WHERE a LIKE '%%s'", "%b": "%d"}, ["n", "%"])
    values = {"n": 2**63, "%": "50%"}
    assert template.render(values) == canonical_json({"sql": "SELECT 100% FROM t WHERE a LIKE '%%s'",
                                                     "%b": "%d", **values})
    with pytest.raises(AuditError):  # beyond 64 bits, like canonical_json
        template.render({"n": 2**64, "%": ""})
    with pytest.raises(AuditError):
        template.render({"n": 1, "%": "\ud800"})
    with pytest.raises(KeyError):  # every slot must be given
        template.render({"n": 1})


@pytest.mark.parametrize(("fixed", "slots"), [
    ({"a": 1}, ["a"]), ({"a": 1}, ["b", "b"]), ({1: "x"}, ["b"]), ({"a": float("nan")}, ["b"]),
])
def test_bad_templates_are_refused(fixed: dict[object, object], slots: list[str]) -> None:
    with pytest.raises(AuditError):
        EventTemplate(fixed, slots)  # type: ignore[arg-type]
