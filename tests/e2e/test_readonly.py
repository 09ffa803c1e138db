"""Read-only cannot be bypassed: every write, privilege and bypass attempt is refused.

A read-only identity sends each attempt through a real ``veil serve``, once over
the simple query protocol (libpq ``PQexec``) and once over the extended protocol
(psycopg's Parse/Bind/Execute).  Each attempt must be refused - SQLSTATE 42501 from
veil, or 25006 from the server for writes hidden inside functions veil cannot see
into (the upstream session is read-only too) - the database must be unchanged, and
the same session must still answer ``SELECT 1``.

The upstream role is a superuser on purpose: nothing but veil and the read-only
session stands between the attempts and the data.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg
import pytest
from psycopg.pq import DiagnosticField, ExecStatus

from tests.support.proxy import PASSWORD_ENV_PREFIX, VeilProcess, basic_config, running_veil
from tests.support.services import PgServer, temp_database

pytestmark = pytest.mark.timeout(120)

USER, PASSWORD = "reader", "pw-reader-9f2c"
MARK = f"veil_ro_{uuid.uuid4().hex[:8]}"  # names of things an attempt would create

SETUP = f"""
CREATE TABLE customers (id int PRIMARY KEY, name text, email text);
INSERT INTO customers SELECT g, 'name ' || g, 'user' || g || '@example.com' FROM generate_series(1, 5) g;
CREATE TABLE audit_log (id int);
CREATE SEQUENCE seq;
CREATE VIEW customer_view AS SELECT id, name FROM customers;
CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM customers;
CREATE FUNCTION evil_fn() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM customers; RETURN 1; END $$;
CREATE FUNCTION evil_srf() RETURNS SETOF int LANGUAGE plpgsql
    AS $$ BEGIN INSERT INTO audit_log VALUES (1); RETURN NEXT 1; END $$;
CREATE FUNCTION sneaky(sql text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN EXECUTE sql; RETURN 1; END $$;
CREATE FUNCTION evil_trigger_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE PROCEDURE evil_proc() LANGUAGE sql AS $$ DELETE FROM customers $$;
CREATE TABLE {MARK}_gone (id int);
"""

CHECKSUM = f"""
SELECT md5(concat_ws('|',
  (SELECT string_agg(c::text, ',' ORDER BY id) FROM customers c),
  (SELECT count(*) FROM audit_log),
  (SELECT last_value::text || is_called::text FROM seq),
  (SELECT n FROM mv),
  (SELECT string_agg(relname::text || relkind::text, ',' ORDER BY relname) FROM pg_class
    WHERE relnamespace = 'public'::regnamespace),
  (SELECT string_agg(attname, ',' ORDER BY attrelid, attnum) FROM pg_attribute
    WHERE attrelid = 'customers'::regclass),
  (SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc WHERE pronamespace = 'public'::regnamespace),
  (SELECT count(*) FROM pg_largeobject_metadata),
  (SELECT count(*) FROM pg_roles WHERE rolname LIKE '{MARK}%'),
  (SELECT count(*) FROM pg_extension),
  (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants
    WHERE table_name = 'customers' AND grantee = 'PUBLIC'),
  (SELECT count(*) FROM pg_prepared_xacts),
  (SELECT count(*) FROM pg_file_settings WHERE name = 'work_mem' AND setting = '1234kB')
))
"""

# (attempt, the SQLSTATEs that count as refused)
VEIL = frozenset({"42501"})
SERVER = frozenset({"42501", "25006"})  # a write inside a function: the read-only session stops it


def attempts(tmp: Path) -> list[tuple[str, frozenset[str]]]:
    out_file = tmp / f"{MARK}.out"
    touched = tmp / f"{MARK}.touched"
    return [
        # plain writes, in several spellings
        ("INSERT INTO customers VALUES (99, 'x', 'x@example.com')", VEIL),
        ("insert into CUSTOMERS (id) values (98)", VEIL),
        ("UPDATE customers SET name = 'pwned'", VEIL),
        ("DELETE FROM customers", VEIL),
        ("/* harmless */ DELETE /* really */ FROM customers", VEIL),
        ("-- a comment first\nUPDATE customers SET email = NULL", VEIL),
        ('DELETE FROM "customers"', VEIL),
        ('DELETE FROM public."customers" WHERE true', VEIL),
        ('DELETE FROM U&"\\0063ustomers"', VEIL),
        ('dElEtE fRoM CuStOmErS', VEIL),
        ("MERGE INTO customers c USING (SELECT 1 AS id) s ON c.id = s.id WHEN MATCHED THEN DELETE", VEIL),
        ("TRUNCATE customers", VEIL),
        ("INSERT INTO customer_view (id, name) VALUES (97, 'x')", VEIL),
        ("UPDATE customers SET name = 'x' WHERE id IN (SELECT id FROM customers)", VEIL),
        # writes hidden in CTEs
        ("WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d", VEIL),
        ("WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM customers RETURNING id) SELECT * FROM c) "
         "SELECT * FROM b", VEIL),
        ("with x as (insert into audit_log values (1) returning 1) select 1", VEIL),
        ("WITH u AS (UPDATE customers SET name = 'x' RETURNING id) SELECT count(*) FROM u", VEIL),
        ("SELECT * FROM (WITH d AS (DELETE FROM customers RETURNING 1) SELECT * FROM d) s", VEIL),
        # creating things
        (f"SELECT * INTO {MARK}_copy FROM customers", VEIL),
        (f"CREATE TABLE {MARK}_t AS SELECT * FROM customers", VEIL),
        (f"CREATE TABLE {MARK}_t2 (a int)", VEIL),
        (f"CREATE TEMP TABLE {MARK}_tmp (a int)", VEIL),
        (f"DROP TABLE {MARK}_gone", VEIL),
        ("ALTER TABLE customers ADD COLUMN pwned int", VEIL),
        (f"CREATE INDEX {MARK}_i ON customers (name)", VEIL),
        (f"CREATE FUNCTION {MARK}_f() RETURNS int LANGUAGE sql AS 'SELECT 1'", VEIL),
        (f"CREATE TRIGGER {MARK}_tr BEFORE INSERT ON customers FOR EACH ROW "
         "EXECUTE FUNCTION evil_trigger_fn()", VEIL),
        ("COMMENT ON TABLE customers IS 'pwned'", VEIL),
        ("CREATE EXTENSION IF NOT EXISTS pgcrypto", VEIL),
        ("REFRESH MATERIALIZED VIEW mv", VEIL),
        # privileges
        ("GRANT ALL ON customers TO PUBLIC", VEIL),
        (f"CREATE ROLE {MARK}_evil SUPERUSER LOGIN", VEIL),
        ("ALTER ROLE CURRENT_USER SET default_transaction_read_only = off", VEIL),
        ("SET ROLE NONE", VEIL),
        ("SET SESSION AUTHORIZATION DEFAULT", VEIL),
        # COPY
        ("COPY customers FROM STDIN", VEIL),
        (f"COPY customers TO '{out_file}'", VEIL),
        (f"COPY (SELECT 1) TO PROGRAM 'touch {touched}'", VEIL),
        ("COPY audit_log FROM PROGRAM 'echo 1'", VEIL),
        # procedural code and locks
        ("DO $$ BEGIN DELETE FROM customers; END $$", VEIL),
        ("DO LANGUAGE plpgsql $body$ BEGIN UPDATE customers SET name = 'x'; END $body$", VEIL),
        ("CALL evil_proc()", VEIL),
        ("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE", VEIL),
        ("SELECT * FROM customers FOR UPDATE", VEIL),
        ("SELECT * FROM customers FOR SHARE NOWAIT", VEIL),
        ("SELECT * FROM (SELECT * FROM customers FOR NO KEY UPDATE) s", VEIL),
        # PREPARE / EXECUTE / EXPLAIN ANALYZE of writes
        ("PREPARE w AS DELETE FROM customers", VEIL),
        ("EXECUTE never_prepared_here", VEIL),
        ("EXPLAIN ANALYZE DELETE FROM customers", VEIL),
        ("EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO audit_log VALUES (1)", VEIL),
        # maintenance, server state
        ("VACUUM customers", VEIL),
        ("ANALYZE customers", VEIL),
        ("CLUSTER customers USING customers_pkey", VEIL),
        ("REINDEX TABLE customers", VEIL),
        ("CHECKPOINT", VEIL),
        ("ALTER SYSTEM SET work_mem = '1234kB'", VEIL),
        ("LISTEN veil_channel", VEIL),
        ("NOTIFY veil_channel, 'x'", VEIL),
        # turning read-only off
        ("SET default_transaction_read_only = off", VEIL),
        ("SET SESSION default_transaction_read_only TO false", VEIL),
        ("set default_transaction_read_only to default", VEIL),
        ("RESET default_transaction_read_only", VEIL),
        ("SET transaction_read_only = off", VEIL),
        ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", VEIL),
        ("BEGIN READ WRITE", VEIL),
        ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE", VEIL),
        ("SELECT set_config('default_transaction_read_only', 'off', false)", VEIL),
        ("SELECT pg_catalog.set_config('transaction_read_only', 'off', true)", VEIL),
        ("SELECT set_config(lower('DEFAULT_TRANSACTION_READ_ONLY'), 'off', false)", VEIL),
        ("SET search_path = pg_temp, public", VEIL),
        # dangerous functions
        ("SELECT pg_read_file('/etc/hostname')", VEIL),
        ("SELECT * FROM pg_ls_dir('.')", VEIL),
        ("SELECT lo_import('/etc/hostname')", VEIL),
        ("SELECT lo_create(0)", VEIL),
        ("SELECT nextval('seq')", VEIL),
        ("SELECT setval('seq', 100)", VEIL),
        ("SELECT pg_advisory_lock(42)", VEIL),
        ("SELECT pg_terminate_backend(pg_backend_pid())", VEIL),
        ("SELECT pg_reload_conf()", VEIL),
        ("SELECT query_to_xml('DELETE FROM customers RETURNING 1', true, true, '')", VEIL),
        ("SELECT id FROM customers WHERE id = (SELECT nextval('seq'))", VEIL),
        # several statements, two-phase commit, unparseable text
        ("SELECT 1; DELETE FROM customers", VEIL),
        ("PREPARE TRANSACTION 'veil_ro'", VEIL),
        ("sellect * frm customers", VEIL),
        # writes veil cannot see: the read-only upstream session refuses them
        ("SELECT evil_fn()", SERVER),
        ("SELECT * FROM evil_srf()", SERVER),
        ("SELECT sneaky('DELETE FROM customers')", SERVER),
    ]


@dataclass(frozen=True)
class Setup:
    veil: VeilProcess
    direct_dsn: str
    tmp: Path


def generate_keys(directory: Path) -> dict[str, str]:
    """Keys made the way a user makes them (``veil keys generate``)."""
    subprocess.run([sys.executable, "-m", "veil", "keys", "generate", "--dir", str(directory)], check=True,
                   capture_output=True, timeout=60)
    return {"masking": f"file:{directory / 'masking.key'}",
            "audit_signing": f"file:{directory / 'audit.key'}"}


@pytest.fixture(scope="module")
def setup(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("readonly")
    with temp_database(pg_server, prefix="veil_ro") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SETUP)
        policy = {"name": "readers", "when": {"identities": [USER]}, "access": "read-only",
                  "mask": {"default": "none"}, "predicates_on_masked": "allow"}
        config = basic_config(dsn, [(USER, PASSWORD, ["readers"], "human")], keys=generate_keys(tmp / "keys"),
                              policies=[policy])
        with running_veil(config, tmp_path=tmp) as veil:
            refuse_or_stop(veil)
            yield Setup(veil, dsn, tmp)


def refuse_or_stop(veil: VeilProcess) -> None:
    """Fail the module before the corpus when veil does not refuse a harmless write.

    The upstream role is a superuser: against a veil that lets writes through (say,
    before the policy pipeline is wired) the corpus would ALTER SYSTEM, create
    superuser roles and run server programs on a shared test server.
    """
    with psycopg.connect(veil.dsn(USER, PASSWORD, options=TIMEOUTS), autocommit=True) as conn:
        state = simple(conn, "DELETE FROM customers WHERE false")
    if state != "42501":
        pytest.fail(f"veil did not refuse a write for a read-only identity (SQLSTATE {state}); "
                    "not sending the bypass corpus to a superuser upstream")


def checksum(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(CHECKSUM).fetchone()
    assert row is not None and row[0]
    return str(row[0])


class Sessions:
    """One veil session per protocol, reused across attempts: each attempt must leave it usable.

    Reuse is the stronger check (a refusal that poisons the session fails the next
    attempt too) and keeps the file fast; a session an attempt broke is replaced, so
    one failure does not cascade.
    """

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.open: dict[str, psycopg.Connection] = {}
        self.direct = psycopg.connect(setup.direct_dsn, autocommit=True, options=TIMEOUTS)

    def get(self, protocol: str) -> psycopg.Connection:
        conn = self.open.get(protocol)
        if conn is None or conn.closed or conn.broken:
            dsn = self.setup.veil.dsn(USER, PASSWORD, options=TIMEOUTS)
            conn = self.open[protocol] = psycopg.connect(dsn, autocommit=True)
        return conn

    def checksum(self) -> str:
        row = self.direct.execute(CHECKSUM).fetchone()
        assert row is not None and row[0]
        return str(row[0])

    def close(self) -> None:
        for conn in (*self.open.values(), self.direct):
            conn.close()


@pytest.fixture(scope="module")
def sessions(setup: Setup) -> Iterator[Sessions]:
    s = Sessions(setup)
    yield s
    s.close()


@pytest.fixture(scope="module")
def baseline(setup: Setup) -> str:
    return checksum(setup.direct_dsn)


ATTEMPTS = attempts(Path("/nonexistent-veil-dir"))  # for ids only; the test rebuilds with its tmp dir


def _ids() -> list[str]:
    return [f"{i:02d}-{sql[:48]}" for i, (sql, _) in enumerate(ATTEMPTS)]


# A veil that let attempts through must make this suite fail, not hang the shared server:
# every session gets timeouts, and a COPY FROM that got through is ended at once.
TIMEOUTS = "-c statement_timeout=5000 -c lock_timeout=2000"


def unstick(conn: psycopg.Connection) -> None:
    """End a COPY FROM STDIN the server is waiting on (it would hold locks until the session ends)."""
    if conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
        conn.pgconn.put_copy_end(b"veil test: refusing to send data")
        while conn.pgconn.get_result() is not None:
            pass


def simple(conn: psycopg.Connection, sql: str) -> str | None:
    """Run ``sql`` with the simple query protocol; the SQLSTATE of the error, or None on success."""
    result = conn.pgconn.exec_(sql.encode())
    if result.status == ExecStatus.COPY_IN:  # a COPY FROM that got through: end it so the session survives
        conn.pgconn.put_copy_end(b"veil test: refusing to send data")
        while (r := conn.pgconn.get_result()) is not None:
            result = r
        return None
    if result.status in (ExecStatus.FATAL_ERROR, ExecStatus.NONFATAL_ERROR):
        state = result.error_field(DiagnosticField.SQLSTATE)
        return state.decode() if state else "?????"
    return None


def extended(conn: psycopg.Connection, sql: str) -> str | None:
    """Run ``sql`` with the extended query protocol (psycopg's default)."""
    try:
        conn.execute(sql)
    except psycopg.Error as exc:
        if conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
            unstick(conn)  # psycopg refuses COPY in execute() but leaves the server waiting for data
            return None
        return exc.sqlstate or "?????"
    return None


@pytest.mark.parametrize("protocol", ["simple", "extended"])
@pytest.mark.parametrize("index", range(len(ATTEMPTS)), ids=_ids())
def test_attempt_is_refused(setup: Setup, sessions: Sessions, baseline: str, index: int,
                            protocol: str) -> None:
    sql, refused_with = attempts(setup.tmp)[index]
    conn = sessions.get(protocol)
    state = (simple if protocol == "simple" else extended)(conn, sql)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    assert state in refused_with, f"{sql!r} over the {protocol} protocol: SQLSTATE {state}"
    # the session is still usable afterwards
    row = conn.execute("SELECT count(*) FROM customers").fetchone()
    assert row == (5,)
    assert sessions.checksum() == baseline, f"{sql!r} changed the database"
    assert not (setup.tmp / f"{MARK}.out").exists()
    assert not (setup.tmp / f"{MARK}.touched").exists()


def test_corpus_is_large_enough() -> None:
    assert len(ATTEMPTS) >= 60


def test_reads_still_work(setup: Setup) -> None:
    """The suite would pass trivially if everything were refused."""
    with psycopg.connect(setup.veil.dsn(USER, PASSWORD, options=TIMEOUTS), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (5,)
        assert conn.execute("SELECT name FROM customer_view WHERE id = %s", (2,)).fetchone() == ("name 2",)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        conn.execute("SET application_name = 'reader-app'")
        with conn.transaction():
            assert conn.execute("SELECT n FROM mv").fetchone() == (5,)
        conn.execute("PREPARE r AS SELECT email FROM customers WHERE id = $1")
        assert conn.execute("EXECUTE r(3)").fetchone() == ("user3@example.com",)
        assert conn.execute("EXPLAIN SELECT * FROM customers").fetchall()
        assert conn.pgconn.exec_(b"SELECT 1; SELECT 2").status == ExecStatus.TUPLES_OK


def audit_events(setup: Setup) -> list[dict[str, object]]:
    """The trail as ``veil audit export`` prints it (run beside the config, as a user would)."""
    env = {**os.environ, PASSWORD_ENV_PREFIX + PASSWORD.encode().hex(): PASSWORD}  # the config refers to it
    command = [sys.executable, "-m", "veil", "audit", "export", "-c", str(setup.veil.config_path)]
    result = subprocess.run(command, cwd=setup.tmp, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _refused_by_veil(event: dict[str, object]) -> bool:
    text = json.dumps(event)
    return '"request"' in text and '"allowed": false' in text and USER in text


def test_every_refusal_is_audited_without_literals(setup: Setup) -> None:
    """After the corpus (file order): a refused request per veil refusal, and no literal in the trail."""
    expected = 2 * sum(1 for _, states in ATTEMPTS if states == VEIL)
    deadline = time.monotonic() + 20
    while True:
        events = audit_events(setup)
        refused = [e for e in events if _refused_by_veil(e)]
        if len(refused) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(refused) >= expected
    trail = json.dumps(events)
    # string literals of the corpus (identifiers such as a column named pwned may appear, literals never)
    for literal in ("'pwned'", "/etc/hostname", "x@example.com", "1234kB",
                    "DELETE FROM customers RETURNING 1", "touch ", "'x'", "'off'"):
        assert literal not in trail, literal


def test_startup_parameters_cannot_turn_read_only_off(setup: Setup, baseline: str) -> None:
    """``PGOPTIONS='-c default_transaction_read_only=off'`` and a startup parameter (asyncpg's
    ``server_settings``) arrive before any SQL; the read-only session must win over both."""
    options = f"{TIMEOUTS} -c default_transaction_read_only=off"
    with psycopg.connect(setup.veil.dsn(USER, PASSWORD, options=options), autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert extended(conn, "SELECT evil_fn()") in SERVER

    async def with_asyncpg() -> tuple[str, str | None]:
        conn = await asyncpg.connect(setup.veil.url(USER, PASSWORD), server_settings={
            "default_transaction_read_only": "off", "statement_timeout": "5000"})
        try:
            shown = await conn.fetchval("SHOW default_transaction_read_only")
            try:
                await conn.fetchval("SELECT evil_fn()")
            except asyncpg.PostgresError as exc:
                return shown, exc.sqlstate
            return shown, None
        finally:
            await conn.close()

    shown, state = asyncio.run(with_asyncpg())
    assert shown == "on" and state in SERVER
    assert sessions_checksum(setup) == baseline


def sessions_checksum(setup: Setup) -> str:
    with psycopg.connect(setup.direct_dsn, autocommit=True, options=TIMEOUTS) as conn:
        row = conn.execute(CHECKSUM).fetchone()
    assert row is not None
    return str(row[0])


# Last in the file: were the hole open, this test would really delete rows.
@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_a_function_cannot_switch_the_session_to_read_write(setup: Setup, baseline: str,
                                                           protocol: str) -> None:
    """A user function can ``SET default_transaction_read_only = off`` where no parser sees it.

    PostgreSQL (>= 14) reports the change in a ParameterStatus message; veil must end
    that session (``read_only_breach``) - or at least the next write must still fail.
    """
    run = simple if protocol == "simple" else extended
    with psycopg.connect(setup.veil.dsn(USER, PASSWORD, options=TIMEOUTS), autocommit=True) as conn:
        first = run(conn, "SELECT sneaky('SET default_transaction_read_only = off')")
        ended = conn.broken or conn.pgconn.status != psycopg.pq.ConnStatus.OK
        if not ended:
            state = run(conn, "SELECT evil_fn()")
            assert state in SERVER, f"a write after the switch went through (SQLSTATE {state})"
        else:
            assert first in ("25006", "?????", None)
    assert checksum(setup.direct_dsn) == baseline
