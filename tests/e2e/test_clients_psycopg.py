"""psycopg 3 through veil gives exactly what it gets directly.

Each scenario is a function of a connection; the test runs it once on a direct
connection and once through a permissive veil (read-write, nothing masked) on the
same database, and compares.  Scenarios also assert something about their own
result, so two identical wrong answers (say, both empty) cannot pass.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import tuple_row

from tests.support.proxy import PassThroughSetup, pass_through_veil
from tests.support.services import PgServer

pytestmark = pytest.mark.timeout(60)

TYPED_ROWS = """
CREATE TABLE {t} (
    id      integer PRIMARY KEY,
    big     bigint,
    amount  numeric(14,4),
    ratio   double precision,
    flag    boolean,
    label   text,
    born    date,
    seen    timestamptz,
    ident   uuid,
    doc     jsonb,
    nums    integer[],
    tags    text[],
    raw     bytea,
    addr    inet
);
INSERT INTO {t}
SELECT g, g::bigint * 1000000007, g * 3.1415, g / 7.0, g % 2 = 0, 'row ' || g || ' ünïcode ✓',
       date '2000-01-01' + g, timestamptz '2024-01-01 12:00:00+02' + g * interval '1 hour',
       md5(g::text)::uuid, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)),
       ARRAY[g, g + 1, NULL], ARRAY['x' || g, NULL, 'quote"d'], decode(md5(g::text), 'hex'),
       ('10.0.' || (g % 256) || '.1')::inet
FROM generate_series(1, 200) g;
INSERT INTO {t} (id) VALUES (0);
"""


@pytest.fixture(scope="module")
def setup(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PassThroughSetup]:
    with pass_through_veil(pg_server, tmp_path_factory.mktemp("veil")) as s:
        yield s


@pytest.fixture
def table(setup: PassThroughSetup) -> str:
    """A fresh table of every common type (and a row of NULLs), created directly."""
    name = f"typed_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(setup.direct_dsn, autocommit=True) as conn:
        conn.execute(TYPED_ROWS.format(t=name))
    return name


def both(setup: PassThroughSetup, scenario: Callable[[psycopg.Connection[Any]], Any], **kw: Any) -> Any:
    """Run ``scenario`` directly and through veil; assert equal results; return them."""
    with psycopg.connect(setup.direct_dsn, **kw) as conn:
        direct = scenario(conn)
    with psycopg.connect(setup.veil_dsn(), **kw) as conn:
        via_veil = scenario(conn)
    assert via_veil == direct
    return via_veil


def q(table: str, text: str) -> sql.Composed:
    return sql.SQL(text).format(t=sql.Identifier(table))


def test_simple_protocol_multi_statement(setup: PassThroughSetup, table: str) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        cur = psycopg.ClientCursor(conn)  # client-side binding: the simple Query message
        cur.execute(q(table, "SELECT * FROM {t} WHERE id < %s ORDER BY id; SELECT count(*) FROM {t}"), (20,))
        first = cur.fetchall()
        assert cur.nextset()
        return [first, cur.fetchall()]

    first, count = both(setup, scenario)
    assert len(first) == 20 and first[0][1] is None and count == [(201,)]


def test_extended_protocol_prepared_and_params(setup: PassThroughSetup, table: str) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        out = []
        for i in range(1, 30):  # prepare=True: one Parse, then Bind/Execute of the named statement
            out.append(conn.execute(q(table, "SELECT label, doc, nums, seen FROM {t} WHERE id = %s"), (i,),
                                    prepare=True).fetchone())
        return out

    rows = both(setup, scenario)
    assert rows[0][0] == "row 1 ünïcode ✓" and rows[0][1] == {"n": 1, "tags": ["a", 1]}


def test_binary_results(setup: PassThroughSetup, table: str) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        with conn.cursor(binary=True) as cur:
            cur.execute(q(table, "SELECT * FROM {t} ORDER BY id"))
            return cur.fetchall()

    rows = both(setup, scenario)
    assert len(rows) == 201 and rows[5][12] == bytes.fromhex("e4da3b7fbbce2345d7772b0674a318d5")


def test_pipeline_mode(setup: PassThroughSetup, table: str) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        with conn.pipeline():
            one = q(table, "SELECT id, amount FROM {t} WHERE id = %s")
            curs = [conn.execute(one, (i,)) for i in range(1, 40)]
            conn.execute(q(table, "UPDATE {t} SET label = label WHERE id = %s"), (1,))
            counted = conn.execute(q(table, "SELECT count(*) FROM {t}"))
        return [c.fetchone() for c in curs] + [counted.fetchone()]

    rows = both(setup, scenario)
    assert len(rows) == 40 and rows[-1] == (201,)


def test_error_then_session_still_usable(setup: PassThroughSetup) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        with pytest.raises(psycopg.errors.DivisionByZero) as err:
            conn.execute("SELECT 1 / 0")
        conn.rollback()
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table_here")
        conn.rollback()
        return [err.value.sqlstate, conn.execute("SELECT 42").fetchone()]

    assert both(setup, scenario) == ["22012", (42,)]


def test_copy_in_and_out(setup: PassThroughSetup, table: str) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        target = f"copy_{uuid.uuid4().hex[:8]}"
        conn.execute(
            sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(sql.Identifier(target), sql.Identifier(table))
        )
        with conn.cursor() as cur:
            with cur.copy(q(table, "COPY (SELECT * FROM {t} ORDER BY id) TO STDOUT")) as copy:
                text_out = b"".join(bytes(block) for block in copy)
            with cur.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(target))) as copy:
                copy.write(text_out)
            binary_out = q(table, "COPY (SELECT id, doc, nums FROM {t} ORDER BY id) TO STDOUT BINARY")
            with cur.copy(binary_out) as copy:
                copy.set_types(["int4", "jsonb", "int4[]"])
                binary_rows = list(copy.rows())
            with cur.copy(sql.SQL("COPY {} (id, label) FROM STDIN (FORMAT binary)").format(
                    sql.Identifier(target))) as copy:
                copy.set_types(["int4", "text"])
                for i in range(1000, 1100):
                    copy.write_row((i, f"binary {i}"))
        counted = conn.execute(sql.SQL("SELECT count(*), max(label) FROM {}").format(
            sql.Identifier(target))).fetchone()
        return [text_out, binary_rows, counted]

    text_out, binary_rows, counted = both(setup, scenario)
    assert text_out.count(b"\n") == 201 and len(binary_rows) == 201 and counted == (301, "row 99 ünïcode ✓")


def test_server_side_cursor(setup: PassThroughSetup, table: str) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        with conn.cursor(name="big", row_factory=tuple_row) as cur:
            cur.itersize = 7  # many FETCH FORWARD 7 round trips
            cur.execute(q(table, "SELECT id, label, seen FROM {t} ORDER BY id"))
            first = cur.fetchmany(3)
            cur.scroll(10)
            return first + list(cur)

    rows = both(setup, scenario)
    assert len(rows) == 3 + 201 - 13 and rows[3][0] == 13


def test_listen_notify(setup: PassThroughSetup) -> None:
    def scenario_for(dsn: str) -> list[Any]:
        channel = f"ch_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as listener, \
                psycopg.connect(dsn, autocommit=True) as sender:
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            for i in range(3):
                sender.execute("SELECT pg_notify(%s, %s)", (channel, f"payload {i} ✓"))
            got = [(n.channel == channel, n.payload) for n in listener.notifies(timeout=5, stop_after=3)]
            sender.execute(sql.SQL("NOTIFY {}, 'after'").format(sql.Identifier(channel)))
            got += [(n.channel == channel, n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
        return got

    direct = scenario_for(setup.direct_dsn)
    via_veil = scenario_for(setup.veil_dsn())
    assert via_veil == direct == [(True, "payload 0 ✓"), (True, "payload 1 ✓"), (True, "payload 2 ✓"),
                                  (True, "after")]


def test_cancel_pg_sleep(setup: PassThroughSetup) -> None:
    """``conn.cancel()`` sends a CancelRequest with veil's key; veil must route it upstream."""
    with psycopg.connect(setup.veil_dsn(), autocommit=True) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
        timer.join()
        assert time.monotonic() - started < 10
        assert conn.execute("SELECT 'still here'").fetchone() == ("still here",)


def test_transactions_and_session_state(setup: PassThroughSetup, table: str) -> None:
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        conn.execute("SET TIME ZONE 'Asia/Kolkata'")
        stamp = conn.execute(q(table, "SELECT seen::text FROM {t} WHERE id = 1")).fetchone()
        with conn.transaction():
            conn.execute(q(table, "UPDATE {t} SET big = -1 WHERE id = 2"))
            with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
                conn.execute(q(table, "INSERT INTO {t} (id) VALUES (3)"))
            inside = conn.execute(q(table, "SELECT big FROM {t} WHERE id = 2")).fetchone()
            conn.execute(q(table, "UPDATE {t} SET big = 2000000014 WHERE id = 2"))
        return [stamp, inside, conn.info.parameter_status("TimeZone"), conn.info.transaction_status.name]

    assert both(setup, scenario) == [("2024-01-01 16:30:00+05:30",), (-1,), "Asia/Kolkata", "INTRANS"]


def test_large_values(setup: PassThroughSetup) -> None:
    """Messages far bigger than any read buffer: framing must reassemble them."""
    def scenario(conn: psycopg.Connection[Any]) -> list[Any]:
        big = "y" * 2_000_000
        row = conn.execute("SELECT repeat('x', 3000000) || %s, length(%s)", ("end", big)).fetchone()
        assert row is not None
        return [len(row[0]), row[0][-3:], row[1]]

    assert both(setup, scenario) == [3000003, "end", 2000000]


def test_cancel_reaches_only_its_own_session(setup: PassThroughSetup) -> None:
    """Two sessions sleep; cancelling one must not touch the other (BackendKeyData is per session)."""
    with psycopg.connect(setup.veil_dsn(), autocommit=True) as victim, \
            psycopg.connect(setup.veil_dsn(), autocommit=True) as bystander:
        assert victim.info.backend_pid != bystander.info.backend_pid
        outcome: dict[str, object] = {}

        def sleep_bystander() -> None:
            try:
                outcome["row"] = bystander.execute("SELECT pg_sleep(1.5), 'done'").fetchone()
            except psycopg.Error as exc:  # pragma: no cover - the failure being tested for
                outcome["error"] = exc

        other = threading.Thread(target=sleep_bystander)
        other.start()
        threading.Timer(0.4, victim.cancel).start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            victim.execute("SELECT pg_sleep(30)")
        other.join(10)
        assert outcome == {"row": ("", "done")}
