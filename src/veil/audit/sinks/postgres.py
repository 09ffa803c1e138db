"""PostgreSQL store: schema ``veil_audit``, one transaction per batch, many nodes side by side.

Each node writes its own origin (its own tree and sequence), so nodes never
contend for a number; the primary key (origin, seq) makes a misconfigured second
node with the same id fail loudly instead of forking the log.  Any connection or
permission error closes the connection and raises ``AuditStoreUnavailable``; the
next call reconnects, so recovery needs no restart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from veil.audit.record import StoredEvent
from veil.audit.sinks import EMPTY_STATE, NoteRecord, TreeState, redact_url
from veil.audit.sinks.sqlite import frontier_from_json, frontier_to_json
from veil.errors import AuditStoreUnavailable

SCHEMA_LOCK = 0x7665696C  # "veil": serializes schema creation when several nodes start at once
DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.events (
  origin text NOT NULL, seq bigint NOT NULL, event_id text NOT NULL, time_us bigint NOT NULL,
  type text NOT NULL, leaf bytea NOT NULL, data bytea NOT NULL, PRIMARY KEY (origin, seq));
CREATE INDEX IF NOT EXISTS events_time ON {schema}.events (time_us);
CREATE TABLE IF NOT EXISTS {schema}.checkpoints (
  origin text NOT NULL, size bigint NOT NULL, note text NOT NULL, frontier text NOT NULL,
  PRIMARY KEY (origin, size));
CREATE TABLE IF NOT EXISTS {schema}.leases (
  origin text PRIMARY KEY, holder text NOT NULL, expires timestamptz NOT NULL);
"""
READ_CHUNK = 5000


def _describe(dsn: str) -> str:
    """The DSN without its password, URL or key=value form alike (for messages and logs)."""
    if "://" in dsn:
        return redact_url(dsn)
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "postgresql (unparseable DSN)"
    return " ".join(f"{k}={params[k]}" for k in ("host", "port", "dbname", "user") if k in params)


class PostgresSink:
    def __init__(self, dsn: str, *, schema: str = "veil_audit", connect_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.description = _describe(dsn)
        self._conn: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, application_name="veil-audit",
                                   connect_timeout=max(1, int(self.connect_timeout)))
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None
        self._conn = conn
        return conn

    def _unavailable(self, exc: BaseException) -> AuditStoreUnavailable:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return AuditStoreUnavailable(f"audit store {self.description} unavailable: {first_line}")

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=sql.Identifier(self.schema))

    def open(self) -> None:
        conn = self._connect()
        try:
            tables = [f"{self.schema}.{t}" for t in ("events", "checkpoints", "leases")]
            present = conn.execute("SELECT bool_and(to_regclass(t) IS NOT NULL) FROM unnest(%s::text[]) t",
                                   (tables,)).fetchone()
            if present and present[0]:
                return  # a writer role needs no CREATE privilege once the schema exists
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                for stmt in DDL.split(";"):
                    if stmt.strip():
                        conn.execute(self._q(stmt))
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def state(self, origin: str) -> TreeState:
        conn = self._connect()
        try:
            row = conn.execute(self._q("SELECT size, frontier FROM {schema}.checkpoints WHERE origin = %s "
                                       "ORDER BY size DESC LIMIT 1"), (origin,)).fetchone()
            size, frontier = (int(row[0]), frontier_from_json(row[1])) if row else (0, ())
            tail = conn.execute(self._q("SELECT leaf FROM {schema}.events WHERE origin = %s AND seq > %s "
                                        "ORDER BY seq"), (origin, size)).fetchall()
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None
        if not row and not tail:
            return EMPTY_STATE
        return TreeState(frontier, size, tuple(bytes(r[0]) for r in tail))

    def append(self, origin: str, events: Sequence[StoredEvent], notes: Sequence[NoteRecord]) -> None:
        conn = self._connect()
        try:
            with conn.transaction(), conn.cursor() as cur:
                if events:
                    cur.executemany(
                        self._q("INSERT INTO {schema}.events "
                                "(origin, seq, event_id, time_us, type, leaf, data) "
                                "VALUES (%s, %s, %s, %s, %s, %s, %s)"),
                        [(e.origin, e.seq, e.event_id, e.time_us, e.type, e.leaf, e.data) for e in events])
                if notes:
                    cur.executemany(
                        self._q("INSERT INTO {schema}.checkpoints (origin, size, note, frontier) "
                                "VALUES (%s, %s, %s, %s)"),
                        [(origin, n.size, n.note, frontier_to_json(n.frontier)) for n in notes])
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def lease(self, origin: str, holder: str, ttl: float, *, release: bool = False) -> bool:
        conn = self._connect()
        try:
            if release:
                conn.execute(self._q("DELETE FROM {schema}.leases WHERE origin = %s AND holder = %s"),
                             (origin, holder))
                return True
            cur = conn.execute(self._q(
                "INSERT INTO {schema}.leases AS l (origin, holder, expires) "
                "VALUES (%s, %s, now() + make_interval(secs => %s)) "
                "ON CONFLICT (origin) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
                "WHERE l.holder = excluded.holder OR l.expires < now()"), (origin, holder, ttl))
            return cur.rowcount == 1
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def idle(self) -> None:
        return None

    def remember(self, origin: str, state: TreeState) -> None:
        return None  # the store itself says where the log ends

    def origins(self) -> list[str]:
        conn = self._connect()
        rows = conn.execute(self._q("SELECT origin FROM {schema}.events UNION "
                                    "SELECT origin FROM {schema}.checkpoints ORDER BY 1")).fetchall()
        return [str(r[0]) for r in rows]

    def events(self, origin: str, start_seq: int = 1) -> Iterator[StoredEvent]:
        conn = self._connect()
        last = start_seq - 1
        while True:  # keyset pages: bounded memory on a long trail
            rows = conn.execute(self._q(
                "SELECT origin, seq, event_id, time_us, type, data, leaf FROM {schema}.events "
                "WHERE origin = %s AND seq > %s ORDER BY seq LIMIT %s"),
                (origin, last, READ_CHUNK)).fetchall()
            for o, seq, eid, t, typ, data, leaf in rows:
                yield StoredEvent(o, int(seq), eid, int(t), typ, bytes(data), bytes(leaf))
            if len(rows) < READ_CHUNK:
                return
            last = int(rows[-1][1])

    def notes(self, origin: str) -> list[str]:
        conn = self._connect()
        rows = conn.execute(self._q("SELECT note FROM {schema}.checkpoints WHERE origin = %s ORDER BY size"),
                            (origin,)).fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
