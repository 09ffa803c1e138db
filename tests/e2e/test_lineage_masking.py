"""Lineage-aware masking through the real proxy: derived columns are masked too.

Content detection alone sees ``upper(email)`` as an email, but not ``substr(ssn, 1, 3)``
or ``encode(convert_to(ssn, 'UTF8'), 'hex')``; lineage says where those values come
from.  Each query runs through ``veil serve`` as a read-only analyst whose policy
pseudonymizes everything, and no original value (or its derived form) may come back.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from tests.support.proxy import VeilProcess, basic_config, running_veil
from tests.support.services import PgServer, temp_database

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "analyst", "pw-analyst-41d7"
ROWS = [
    (1, "Alice Smith", "alice.smith@example.org", "123-45-6789"),
    (2, "Bob Jones", "bob.jones@example.net", "234-56-7890"),
    (3, "Carol White", "carol.white@example.com", "345-67-8901"),
]


@dataclass(frozen=True)
class Setup:
    veil: VeilProcess


@pytest.fixture(scope="module")
def setup(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("lineage")
    keys = tmp / "keys"
    subprocess.run([sys.executable, "-m", "veil", "keys", "generate", "--dir", str(keys)], check=True,
                   capture_output=True, timeout=60)
    with temp_database(pg_server, prefix="veil_lm") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, email text, ssn text)")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s)", ROWS)
        config = basic_config(
            dsn, [(USER, PASSWORD, ["analysts"], "human")],
            keys={"masking": f"file:{keys / 'masking.key'}", "audit_signing": f"file:{keys / 'audit.key'}"},
            columns={"public.customers.email": "email", "public.customers.ssn": "us_ssn",
                     "public.customers.name": "person_name"},
            policies=[{"name": "analysts", "when": {"identities": [USER]}, "access": "read-only",
                       "mask": {"default": "pseudonymize"}, "predicates_on_masked": "allow"}],
        )
        with running_veil(config, tmp_path=tmp) as veil:
            yield Setup(veil)


def fetch(setup: Setup, sql: str) -> list[str]:
    with psycopg.connect(setup.veil.dsn(USER, PASSWORD), autocommit=True) as conn:
        return [str(row[0]) for row in conn.execute(sql + " ORDER BY id").fetchall()]


def test_upper_of_an_email_is_masked_as_an_email(setup: Setup) -> None:
    got = fetch(setup, "SELECT upper(email) FROM customers")
    assert len(got) == len(ROWS)
    for value, (_, _, email, _) in zip(got, ROWS, strict=True):
        assert value.lower() != email
        assert "@" in value  # still an email: masked as the source's type


def test_a_prefix_of_an_ssn_is_redacted(setup: Setup) -> None:
    got = fetch(setup, "SELECT substr(ssn, 1, 3) FROM customers")
    assert len(got) == len(ROWS)
    assert not set(got) & {ssn[:3] for *_, ssn in ROWS}


def test_a_hex_encoded_ssn_is_redacted(setup: Setup) -> None:
    got = fetch(setup, "SELECT encode(convert_to(ssn, 'UTF8'), 'hex') FROM customers")
    assert len(got) == len(ROWS)
    assert not set(got) & {ssn.encode().hex() for *_, ssn in ROWS}


@pytest.mark.parametrize("expr", ["row_to_json(c)", "c::text", "to_jsonb(c)"])
def test_whole_row_values_hide_every_column(setup: Setup, expr: str) -> None:
    got = fetch(setup, f"SELECT {expr} FROM customers c")
    assert len(got) == len(ROWS)
    text = "\n".join(got)
    for _, _, email, ssn in ROWS:
        assert email not in text and ssn not in text


def test_whole_row_text_hides_tagged_names(setup: Setup) -> None:
    text = "\n".join(fetch(setup, "SELECT c::text FROM customers c"))
    assert not [name for _, name, _, _ in ROWS if name in text]


def test_plain_columns_are_masked_and_ids_are_not(setup: Setup) -> None:
    with psycopg.connect(setup.veil.dsn(USER, PASSWORD), autocommit=True) as conn:
        rows = conn.execute("SELECT id, email, ssn FROM customers ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [r[0] for r in ROWS]
    for (_, email, ssn), (_, _, real_email, real_ssn) in zip(rows, ROWS, strict=True):
        assert email != real_email and "@" in email
        assert ssn != real_ssn


def test_rows_from_a_cursor_or_a_prepared_statement_keep_their_lineage(setup: Setup) -> None:
    """FETCH and EXECUTE carry no query; their rows derive from the DECLARE / PREPARE."""
    prefixes = {ssn[:3] for *_, ssn in ROWS}
    with psycopg.connect(setup.veil.dsn(USER, PASSWORD), autocommit=True) as conn:
        with conn.transaction():
            conn.execute("DECLARE c CURSOR FOR SELECT substr(ssn, 1, 3) FROM customers ORDER BY id")
            fetched = [str(r[0]) for r in conn.execute("FETCH ALL FROM c").fetchall()]
        conn.execute("PREPARE p AS SELECT substr(ssn, 1, 3) FROM customers ORDER BY id")
        executed = [str(r[0]) for r in conn.execute("EXECUTE p").fetchall()]
    assert len(fetched) == len(executed) == len(ROWS)
    assert not set(fetched) & prefixes
    assert not set(executed) & prefixes


def test_copy_of_derived_values_is_masked_like_a_select(setup: Setup) -> None:
    """COPY rows carry no RowDescription; lineage still says ``substr(ssn, 1, 3)`` is part of an SSN."""
    with psycopg.connect(setup.veil.dsn(USER, PASSWORD), autocommit=True) as conn:
        sql = "COPY (SELECT id, substr(ssn, 1, 3), upper(email) FROM customers ORDER BY id) TO STDOUT"
        with conn.cursor().copy(sql) as copy:
            rows = [bytes(line).decode().rstrip("\n").split("\t") for line in copy]
    assert [int(r[0]) for r in rows] == [r[0] for r in ROWS]
    assert not {r[1] for r in rows} & {ssn[:3] for *_, ssn in ROWS}
    for (_, _, email), (_, _, real, _) in zip(rows, ROWS, strict=True):
        assert email.lower() != real
