"""No planted value reaches a masked client, by any protocol path (issue 6's promise).

A fixture database holds planted values of every kind (typed columns, free-text notes,
jsonb, text[], a numeric card column, inet).  Every byte veil sends to the client goes
through a TCP tee and is searched for each planted value and simple encodings of it
(upper/lower case, digits only).  The client libraries are the real ones; the paths
are text and binary results, prepared statements, pipeline mode, server-side cursors,
COPY text/CSV, binary COPY (refused), psql, errors that echo a value, NOTICEs raised by a
function and pg_notify payloads.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from tests.support.forwarder import Forwarder
from tests.support.proxy import basic_config, running_veil

EMAIL = "ana.lopez.planted@example-corp.com"
SSN = "536-22-8714"
PHONE = "+1 415 555 0143"
CARD = "4929 1234 5678 9015"
CARD_NUM = "4539578763621486"
IBAN = "DE89370400440532013000"
IP = "203.0.113.77"
NOTE_EMAIL = "jane.planted@hiddenmail.org"
NOTE_CARD = "5425233430109903"
JSON_SSN = "412-67-3390"
ARRAY_EMAIL = "array.planted@sample-domain.net"
FULL_NAME = "Ana Lopez"  # hint-only: no value detector can know a name, the column name can

PLANTED = [EMAIL, SSN, PHONE, CARD, CARD_NUM, IBAN, IP, NOTE_EMAIL, NOTE_CARD, JSON_SSN, ARRAY_EMAIL,
           FULL_NAME]

SETUP = f"""
CREATE TABLE customers (
    id int PRIMARY KEY,
    email text, ssn text, phone text, card text, iban text,
    card_number numeric(16,0), ip inet,
    notes text, profile jsonb, aliases text[], full_name text
);
INSERT INTO customers VALUES
 (1, '{EMAIL}', '{SSN}', '{PHONE}', '{CARD}', '{IBAN}', {CARD_NUM}, '{IP}',
  'Customer asked to mail {NOTE_EMAIL} and pay with {NOTE_CARD} tomorrow',
  '{{"contact": {{"ssn": "{JSON_SSN}", "mail": "{EMAIL}"}}, "tier": "gold"}}',
  ARRAY['{ARRAY_EMAIL}', 'plain alias'], '{FULL_NAME}'),
 (2, 'other.person@example-corp.com', '536-22-8715', '+1 415 555 0199', '4929 1234 5678 9023',
  'GB82WEST12345698765432', 4012888888881881, '198.51.100.7', 'nothing to see', '{{}}', ARRAY['x'],
  'Berta Klein');
CREATE TABLE orders (id int, customer_email text, amount int);
INSERT INTO orders VALUES (1, '{EMAIL}', 10), (2, '{EMAIL}', 20), (3, 'other.person@example-corp.com', 5);
CREATE FUNCTION leak_notice(t text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'looking at %', t; RETURN 1; END $$;
"""


def encodings(value: str) -> set[bytes]:
    forms = {value, value.upper(), value.lower()}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 8:
        forms.add(digits)
    return {f.encode() for f in forms}


class Tee:
    """Every byte veil sends to clients that connect through ``port``, searched for planted values."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.received = bytearray()
        self._lock = threading.Lock()
        self._forwarder = Forwarder(target, on_reply=self._record).start()
        self.port = self._forwarder.port

    def _record(self, data: bytes) -> None:
        with self._lock:
            self.received += data

    def leaks(self) -> list[str]:
        with self._lock:
            data = bytes(self.received)
        return [value for value in PLANTED if any(form in data for form in encodings(value))]

    def close(self) -> None:
        self._forwarder.kill()


USERS = [("agent", "agent-pw-1", [], "agent"), ("writer", "writer-pw-1", ["masked-rw"], "human")]
POLICIES = [
    {"name": "agents", "when": {"kind": "agent"}, "access": "read-only",
     "mask": {"default": "pseudonymize"}, "predicates_on_masked": "allow", "allow_multi_statement": True},
    {"name": "masked-rw", "when": {"groups": ["masked-rw"]}, "access": "read-write",
     "mask": {"default": "pseudonymize"}, "predicates_on_masked": "allow"},
]


@pytest.fixture(scope="module")
def veil_tee(pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tee, str, object]]:  # type: ignore[no-untyped-def]
    from tests.support.services import temp_database

    with temp_database(pg_server) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SETUP)
        cfg = basic_config(dsn, USERS, policies=POLICIES)
        with running_veil(cfg, tmp_path=tmp_path_factory.mktemp("leaks")) as veil:
            tee = Tee((veil.host, veil.port))
            try:
                yield tee, dsn, veil
            finally:
                tee.close()


def tee_dsn(tee: Tee, veil: object, user: str = "agent", password: str = "agent-pw-1") -> str:
    """A DSN to veil through the tee (the tee is the only way in, so every byte is seen)."""
    tee.received.clear()  # each test judges only its own traffic
    return re.sub(r"port=\d+", f"port={tee.port}", veil.dsn(user, password))  # type: ignore[attr-defined]


def tee_url(tee: Tee, veil: object) -> str:
    tee.received.clear()
    url: str = veil.url("agent", "agent-pw-1")  # type: ignore[attr-defined]
    return re.sub(r":\d+/", f":{tee.port}/", url, count=1)


def test_planted_values_are_in_the_database(veil_tee) -> None:  # type: ignore[no-untyped-def]
    _, dsn, _ = veil_tee
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT email, ssn, notes FROM customers WHERE id = 1").fetchone()
    assert row is not None and row[0] == EMAIL and row[1] == SSN and NOTE_CARD in row[2]


def test_psycopg_paths_leak_nothing(veil_tee) -> None:  # type: ignore[no-untyped-def]
    tee, _, veil = veil_tee
    with psycopg.connect(tee_dsn(tee, veil), autocommit=True) as conn:
        text_rows = conn.execute("SELECT * FROM customers ORDER BY id").fetchall()
        assert len(text_rows) == 2
        assert "@" in text_rows[0][1] and text_rows[0][1] != EMAIL  # a masked email is still an email
        binary_rows = conn.cursor(binary=True).execute("SELECT * FROM customers ORDER BY id").fetchall()
        assert len(binary_rows) == 2
        for _ in range(3):
            conn.execute("SELECT email, ssn, card_number FROM customers WHERE id = %s", (1,), prepare=True)
        with conn.pipeline():
            cur1 = conn.execute("SELECT notes, profile FROM customers WHERE id = %s", (1,))
            cur2 = conn.execute("SELECT aliases, ip FROM customers WHERE id = %s", (1,))
        assert cur1.fetchall() and cur2.fetchall()
        conn.execute("SELECT row_to_json(c) FROM customers c").fetchall()
        conn.execute("SELECT c::text FROM customers c").fetchall()
        conn.execute("SELECT c FROM customers c").fetchall()
        conn.cursor(binary=True).execute("SELECT c FROM customers c").fetchall()
        conn.execute("SELECT concat(full_name, ' <', email, '>') FROM customers").fetchall()
        conn.execute("SELECT json_agg(c) FROM customers c").fetchall()
        with conn.transaction():
            with conn.cursor(name="server_side") as cur:
                cur.execute("SELECT * FROM customers ORDER BY id")
                assert len(cur.fetchmany(1)) == 1 and len(cur.fetchall()) == 1
            conn.execute("DECLARE c1 CURSOR FOR SELECT email, notes FROM customers")
            conn.execute("FETCH 2 FROM c1").fetchall()
        with conn.cursor() as cur:
            with cur.copy("COPY (SELECT * FROM customers) TO STDOUT") as copy:
                assert b"".join(bytes(b) for b in copy)
            with cur.copy("COPY customers TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                assert b"".join(bytes(b) for b in copy)
    assert tee.leaks() == []


def test_binary_copy_is_refused_for_a_masked_identity(veil_tee) -> None:  # type: ignore[no-untyped-def]
    tee, _, veil = veil_tee
    with psycopg.connect(tee_dsn(tee, veil), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as err, conn.cursor().copy(
                "COPY customers TO STDOUT (FORMAT binary)") as copy:
            for _ in copy:
                pass
        assert "binary COPY" in str(err.value)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the session stays usable
    assert tee.leaks() == []


def test_asyncpg_paths_leak_nothing(veil_tee) -> None:  # type: ignore[no-untyped-def]
    tee, _, veil = veil_tee

    async def run() -> None:
        conn = await asyncpg.connect(tee_url(tee, veil))
        try:
            stmt = await conn.prepare("SELECT * FROM customers WHERE id = $1")
            for _ in range(5):
                rows = await stmt.fetch(1)
                assert rows and rows[0]["email"] != EMAIL
            async with conn.transaction():
                got = [r async for r in conn.cursor("SELECT email, notes, profile FROM customers",
                                                    prefetch=1)]
                assert len(got) == 2
            await conn.fetch("SELECT aliases, ip, card_number FROM customers")
        finally:
            await conn.close()

    asyncio.run(run())
    assert tee.leaks() == []


def test_psql_leaks_nothing(veil_tee, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tee, _, veil = veil_tee
    out = subprocess.run(
        ["psql", tee_dsn(tee, veil), "-X", "-c", "SELECT * FROM customers", "-c", "\\x",
         "-c", "SELECT notes FROM customers", "-c", f"\\copy customers to '{tmp_path / 'c.csv'}' csv"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "@" in out.stdout
    written = (tmp_path / "c.csv").read_text()
    assert not any(v in out.stdout or v in written for v in PLANTED)
    assert tee.leaks() == []


def test_errors_and_notices_that_echo_values_are_masked(veil_tee) -> None:  # type: ignore[no-untyped-def]
    tee, _, veil = veil_tee
    notices: list[str] = []
    with psycopg.connect(tee_dsn(tee, veil), autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            conn.execute("SELECT ssn::int FROM customers WHERE id = 1")
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            conn.execute("SELECT email::int FROM customers WHERE id = 1")
        conn.execute("SELECT leak_notice(email) FROM customers WHERE id = 1").fetchall()
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert notices and all(EMAIL not in n for n in notices)
    assert tee.leaks() == []


def test_notification_payloads_are_masked(veil_tee) -> None:  # type: ignore[no-untyped-def]
    tee, dsn, veil = veil_tee
    with psycopg.connect(tee_dsn(tee, veil, "writer", "writer-pw-1"), autocommit=True) as listener:
        listener.execute("LISTEN planted")
        with psycopg.connect(dsn, autocommit=True) as direct:
            direct.execute("SELECT pg_notify('planted', %s)", (f"new signup {EMAIL}",))
        got = next(listener.notifies(timeout=10, stop_after=1))
        assert "new signup" in got.payload and EMAIL not in got.payload
    assert tee.leaks() == []


def test_pseudonyms_are_stable_and_joinable(veil_tee) -> None:  # type: ignore[no-untyped-def]
    tee, dsn, veil = veil_tee
    query = ("SELECT c.email, count(*) FROM customers c JOIN orders o ON o.customer_email = c.email "
             "GROUP BY c.email ORDER BY 2")
    with psycopg.connect(dsn) as direct:
        expected = [n for _, n in direct.execute(query).fetchall()]
    with psycopg.connect(tee_dsn(tee, veil)) as conn:
        first = conn.execute(query).fetchall()
        second = conn.execute(query).fetchall()
        emails = conn.execute("SELECT email FROM customers ORDER BY id").fetchall()
        order_emails = {r[0] for r in conn.execute("SELECT customer_email FROM orders").fetchall()}
    assert first == second
    assert [n for _, n in first] == expected
    assert all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", e) for (e,) in emails)
    # the same email in two tables gets the same pseudonym: the masked values still join
    assert {e for (e,) in emails} == order_emails
    assert tee.leaks() == []
