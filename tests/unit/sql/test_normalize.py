"""normalize / fingerprint / strip_reason_comment: the audit trail never holds a literal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.sql import fingerprint, normalize, strip_reason_comment
from veil.sql.normalize import MAX_REASON_LENGTH, UNPARSEABLE

CASES = [
    ("select * from t where email = 'a@b.c' and id = 42", "select * from t where email = $1 and id = $2"),
    ("SELECT 1.5, x'ff', b'01', e'\\n', $$dollar$$, $tag$x$tag$", "SELECT $1, $2, $3, $4, $5, $6"),
    ("select $1, 'x'", "select $1, $2"),
    ("copy t to '/secret/path'", "copy t to $1"),
    ("prepare p as select 'ssn 123-45-6789'", "prepare p as select $1"),
    ("alter role bob password 'hunter2'", "alter role bob password $1"),
    ("select 1 /* alice@example.com */ -- bob\n, 2", "select $1\n, $2"),
    ("sellect 'not sql' frm", "sellect $1 frm"),
    ("select 'unterminated", UNPARSEABLE),
    ("", ""),
]


@pytest.mark.parametrize(("sql", "expected"), CASES)
def test_normalize(sql: str, expected: str) -> None:
    assert normalize(sql) == expected


@settings(max_examples=60, deadline=None)
@given(secret=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                      max_size=30),
       shape=st.sampled_from([
           "select {q} as x", "select * from t where a = {q}", "insert into t values ({q})",
           "select 1 /* zq{raw} */", "select 1 -- zq{raw}\n", "set application_name = {q}",
           "select {q} frm broken", "copy t to {q}", "select $b$zq{raw}$b$",
       ]))
def test_no_literal_survives(secret: str, shape: str) -> None:
    marker = "zq" + secret
    quoted = "'" + marker.replace("'", "''") + "'"
    raw = secret.replace("*/", "").replace("/*", "").replace("\n", " ").replace("$b$", "")
    sql = shape.format(q=quoted, raw=raw)
    out = normalize(sql)
    assert "zq" not in out


def test_fingerprint_ignores_constants_and_never_raises() -> None:
    assert fingerprint("select * from t where a = 1") == fingerprint("select * from t where a = 2")
    assert fingerprint("select * from t") != fingerprint("select * from u")
    bad = fingerprint("selct 'x'")
    assert bad == fingerprint("selct 'y'")  # scrubbed before hashing: literals do not matter
    assert fingerprint("select 'unterminated") != ""


REASONS = [
    ("/* veil.reason: TICKET-42 */ select 1", "TICKET-42", "select 1"),
    ("  \n/*veil.reason=incident 7*/\nselect 1", "incident 7", "select 1"),
    ("/* veil.reason:   */ select 1", None, "select 1"),
    ("select 1 /* veil.reason: late */", None, "select 1 /* veil.reason: late */"),
    ("/* other */ /* veil.reason: x */ select 1", None, "/* other */ /* veil.reason: x */ select 1"),
    ("/* veil.reason: a /* nested */ select 1", None, "/* veil.reason: a /* nested */ select 1"),
    ("/* veil.reason: two\nlines\x07 */ select 1", "two lines", "select 1"),
]


@pytest.mark.parametrize(("sql", "reason", "rest"), REASONS)
def test_strip_reason_comment(sql: str, reason: str | None, rest: str) -> None:
    assert strip_reason_comment(sql) == (reason, rest)


def test_reason_is_capped() -> None:
    reason, _ = strip_reason_comment("/* veil.reason: " + "x" * 5000 + " */ select 1")
    assert reason is not None and len(reason) == MAX_REASON_LENGTH
