"""Hypothesis fuzzing of the SQL classifier (the quick CI twin of ``bench/fuzz.py --target sql``).

Why: read-only access rests on one question, "is this statement a read?".  A
classifier that raises lets a session handler fail in an unplanned way, and one
that calls a disguised write a read is a fail-open.  Disguises that cost an
attacker nothing (keyword casing, comments and whitespace between tokens, a leading
reason comment, a harmless statement in front) must not change the verdict.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.sql import analyze, fingerprint, normalize, read_only_violations, strip_reason_comment
from veil.values import StatementKind

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Known writes, tokenized on single spaces; no quoted identifiers or dollar quotes, so
# re-casing a token or putting a comment between two tokens keeps the statement valid.
KNOWN_WRITES = [
    "INSERT INTO customers ( id , email ) VALUES ( 1 , 'a@b.c' )",
    "UPDATE customers SET email = 'x' WHERE id = 1",
    "DELETE FROM customers WHERE id > 0",
    "TRUNCATE customers",
    "DROP TABLE customers",
    "CREATE TABLE t2 AS SELECT * FROM customers",
    "SELECT * INTO t3 FROM customers",
    "WITH d AS ( DELETE FROM customers RETURNING * ) SELECT * FROM d",
    "SELECT * FROM customers FOR UPDATE",
    "COPY customers FROM STDIN",
    "ALTER TABLE customers ADD COLUMN x int",
    "GRANT ALL ON customers TO public",
    "MERGE INTO customers c USING src s ON c.id = s.id WHEN MATCHED THEN DELETE",
    "INSERT INTO audit SELECT * FROM customers ON CONFLICT DO NOTHING",
    "EXPLAIN ANALYZE DELETE FROM customers",
    "CREATE INDEX ON customers ( email )",
    "SELECT pg_terminate_backend ( 1 )",
    "SELECT set_config ( 'default_transaction_read_only' , 'off' , false )",
    "SET default_transaction_read_only = off",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "CALL do_things ( )",
    "DO 'BEGIN DELETE FROM customers; END'",
    "LOCK TABLE customers",
    "REFRESH MATERIALIZED VIEW mv",
    "SELECT lo_import ( '/etc/passwd' )",
]

SEPARATORS = st.sampled_from(
    [
        " ",
        "  ",
        "\n",
        "\t",
        " /* x */ ",
        "/**/",
        " /* a /* nested */ b */ ",
        " --c\n",
        "\r\n",
        " /* veil.reason: x */ ",
    ]
)


def _disguise(sql: str, casing: list[bool], seps: list[str]) -> str:
    tokens = sql.split(" ")
    out = []
    for i, token in enumerate(tokens):
        quoted = token.startswith("'")
        cased = token if quoted else (token.upper() if casing[i % len(casing)] else token.lower())
        out.append(cased)
        if i < len(tokens) - 1:
            out.append(seps[i % len(seps)])
    return "".join(out)


def _is_read_only(sql: str) -> bool:
    _, body = strip_reason_comment(sql)
    return all(not read_only_violations(info) for info in analyze(body))


def test_every_known_write_is_refused_undisguised() -> None:
    for sql in KNOWN_WRITES:
        assert not _is_read_only(sql), sql


@SETTINGS
@given(
    st.sampled_from(KNOWN_WRITES),
    st.lists(st.booleans(), min_size=1, max_size=8),
    st.lists(SEPARATORS, min_size=1, max_size=8),
    st.sampled_from(["", "SELECT 1; ", "/* veil.reason: r */ ", "BEGIN; ", ";"]),
    st.sampled_from(["", ";", " ; ", "; SELECT 1", " -- trailing"]),
)
def test_disguised_write_is_never_read(
    sql: str, casing: list[bool], seps: list[str], prefix: str, suffix: str
) -> None:
    disguised = prefix + _disguise(sql, casing, seps) + suffix
    assert not _is_read_only(disguised), disguised


@SETTINGS
@given(st.sampled_from(KNOWN_WRITES), st.integers(0, 200), st.text(max_size=6))
def test_write_with_random_insert_is_never_read(sql: str, pos: int, junk: str) -> None:
    # junk at a random point: either still the write (non-read) or unparseable (UNKNOWN, non-read)
    pos %= len(sql) + 1
    mutated = sql[:pos] + junk + sql[pos:]
    if mutated.lower().startswith(("select ", "with ")) and "for update" not in mutated.lower():
        return  # the junk may legitimately have cut a write down to a read-shaped statement
    infos = analyze(mutated)
    if any(info.kind is StatementKind.UNKNOWN for info in infos):
        assert not _is_read_only(mutated)


@SETTINGS
@given(st.text(max_size=300))
def test_classifier_never_raises_on_any_text(text: str) -> None:
    infos = analyze(text)  # empty for blank or comment-only text (an EmptyQueryResponse)
    for info in infos:
        read_only_violations(info)
        if info.kind is StatementKind.UNKNOWN:
            assert read_only_violations(info), "UNKNOWN must never count as a read"
    assert isinstance(normalize(text), str)
    assert isinstance(fingerprint(text), str)
    strip_reason_comment(text)


@SETTINGS
@given(st.text(st.sampled_from("selct*fromwhe'();$-/ \n\\E1unioSLCT"), max_size=120))
def test_sql_shaped_noise_never_raises(text: str) -> None:
    for info in analyze(text):
        assert isinstance(read_only_violations(info), tuple)
    normalize(text)


@pytest.mark.parametrize("target", ["sql", "detect"])
def test_fuzz_corpus_replays_clean(target: str) -> None:
    """Every kept input of the atheris text targets (sql, and the detectors over results) stays clean."""
    from bench.fuzz import CORPUS, _build

    run = _build(target)
    files = sorted((CORPUS / target).glob("*"))
    assert files, f"no corpus for {target}"
    for path in files:
        run(path.read_bytes())
