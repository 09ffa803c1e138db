"""A small pool of upstream connections for the front ends that are not the wire relay.

MCP and the HTTP API execute statements themselves (the wire front end relays the
client's own protocol messages instead).  To keep masking identical to the wire
path, results come back exactly as a text-format RowDescription/DataRow would carry
them: ``ColumnInfo`` with the table OID and attnum, and every value as the raw text
bytes PostgreSQL sent (None for NULL).  The pipeline's RowMasker then sees the very
same input a psql session would give it.

Each call runs in its own transaction (``BEGIN READ ONLY`` when the identity's
session settings say so, so the server enforces what the parser decided), with the
per-identity settings applied ``SET LOCAL``-style, and the connection is reset with
``DISCARD ALL`` before it goes back to the pool: one caller's ``SET`` never leaks
into another identity's request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import AsyncConnection, generators
from psycopg import errors as pg_errors
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.pq.abc import PGresult

from veil.errors import UpstreamError, VeilError
from veil.values import ColumnInfo

Param = str | int | float | bool | None


def text_param(value: Param) -> str | None:
    """A JSON parameter as the text PostgreSQL would parse (booleans as true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise UpstreamError("query parameters must be strings, numbers, booleans or null")


@dataclass(slots=True)
class QueryResult:
    """One executed statement: its columns, raw text rows, and how it ended."""

    columns: list[ColumnInfo]
    rows: list[list[bytes | None]] = field(default_factory=list)
    command: str = ""  # the command tag, e.g. "SELECT 3", "INSERT 0 1"
    truncated: bool = False  # more rows existed than the cap allowed
    bytes: int = 0


class QueryFailed(VeilError):
    """The upstream rejected the statement.

    ``fields`` are the ErrorResponse fields by PostgreSQL's one-letter codes (M, D, H,
    C, S).  Detail and hint may quote row values (a duplicate key, a failing check),
    so a front end passes them through ``Pipeline.mask_fields`` before showing them,
    exactly as the wire front end does; ``str()`` is only the primary message.
    """

    def __init__(self, message: str, *, sqlstate: str | None,
                 fields: Mapping[str, str] | None = None) -> None:
        self.sqlstate = sqlstate or "XX000"
        self.fields = dict(fields or {"S": "ERROR", "C": self.sqlstate, "M": message})
        super().__init__(message)

    @property
    def detail(self) -> str | None:
        return self.fields.get("D")

    @property
    def hint(self) -> str | None:
        return self.fields.get("H")


class _CopyUnsupported(Exception):
    """The statement switched the connection into COPY mode (there is no stream to copy to or from)."""


# Startup-packet parameters that are not settings a transaction can take (set_config would fail).
_STARTUP_ONLY = frozenset({"user", "database", "options", "replication", "client_encoding"})
_COPY_STATES = frozenset({ExecStatus.COPY_OUT, ExecStatus.COPY_IN, ExecStatus.COPY_BOTH})


class UpstreamPool:
    """At most ``max_size`` pooled psycopg connections to the upstream, opened lazily."""

    def __init__(self, dsn: str, *, max_size: int = 8, connect_timeout: float = 10.0,
                 chunk_rows: int = 256) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._chunk_rows = chunk_rows
        self._slots = asyncio.Semaphore(max_size)
        self._idle: list[AsyncConnection[Any]] = []
        self._closed = False

    async def _connect(self) -> AsyncConnection[Any]:
        try:
            conn = await AsyncConnection.connect(
                self._dsn, autocommit=True, prepare_threshold=None,
                connect_timeout=max(1, int(self._connect_timeout)), application_name="veil-agents")
        except psycopg.Error as exc:
            # psycopg's message may contain the DSN's host/user; say only what failed.
            raise UpstreamError("cannot connect to the upstream database") from exc
        return conn

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A healthy connection, returned to the pool afterwards (dropped if it broke)."""
        if self._closed:
            raise UpstreamError("the upstream pool is closed")
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            healthy = False
            try:
                yield conn
                healthy = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
            finally:
                if healthy and not self._closed:
                    self._idle.append(conn)
                else:
                    await conn.close()

    async def execute(self, sql: str, params: Sequence[Param] = (), *,
                      settings: Mapping[str, str] | None = None, read_only: bool = False,
                      statement_timeout_ms: int | None = None, max_rows: int | None = None,
                      max_bytes: int | None = None) -> QueryResult:
        """Run one statement in its own transaction; raw text rows, at most ``max_rows``/``max_bytes``."""
        settings = {k: v for k, v in (settings or {}).items() if k not in _STARTUP_ONLY}
        if settings.pop("default_transaction_read_only", "off").lower() in ("on", "true", "1", "yes"):
            read_only = True
        if statement_timeout_ms is not None:
            settings["statement_timeout"] = str(int(statement_timeout_ms))
        async with self.connection() as conn:
            try:
                return await self._run(conn, sql, [text_param(p) for p in params], settings,
                                       read_only, (max_rows, max_bytes))
            except _CopyUnsupported:
                await conn.close()
                raise QueryFailed("COPY is not available through this front end; use SELECT",
                                  sqlstate="0A000") from None
            except psycopg.Error as exc:
                await _rollback(conn)
                diag = exc.diag
                fields = {code: value for code, value in (
                    ("S", diag.severity_nonlocalized or "ERROR"), ("C", diag.sqlstate),
                    ("M", diag.message_primary or type(exc).__name__), ("D", diag.message_detail),
                    ("H", diag.message_hint)) if value}
                raise QueryFailed(fields["M"], sqlstate=diag.sqlstate, fields=fields) from None
            finally:
                await _reset(conn)

    async def _run(self, conn: AsyncConnection[Any], sql: str, params: list[str | None],
                   settings: Mapping[str, str], read_only: bool,
                   caps: tuple[int | None, int | None]) -> QueryResult:
        await conn.execute("BEGIN READ ONLY" if read_only else "BEGIN")
        if settings:  # one round trip for all of them, local to this transaction
            calls = ", ".join("pg_catalog.set_config(%s, %s, true)" for _ in settings)
            await conn.execute(f"SELECT {calls}", [x for item in settings.items() for x in item])
        result = await self._stream(conn, sql, params, caps)
        if result.truncated:
            await _rollback(conn)  # the cancelled statement aborted the transaction
        else:
            await conn.execute("COMMIT")
        return result

    async def _stream(self, conn: AsyncConnection[Any], sql: str, params: list[str | None],
                      caps: tuple[int | None, int | None]) -> QueryResult:
        """Send one statement (extended protocol, text results) and read it chunk by chunk.

        libpq directly rather than a cursor: a cursor either loads every row (no cap
        before memory runs out) or, streaming, loses the description of an empty result
        and the tag of a command.  Past the cap the statement is cancelled.
        """
        pg = conn.pgconn
        result = QueryResult(columns=[])
        async with conn.lock:
            pg.send_query_params(sql.encode(), [None if p is None else p.encode() for p in params],
                                 result_format=0)
            pg.set_chunked_rows_mode(self._chunk_rows)
            # A caller that goes away (CancelledError) cancels the statement server-side: psycopg's
            # wait() does that for us.
            await conn.wait(generators.send(pg))
            await self._read(conn, result, caps)
        if result.truncated or (result.columns and not result.command):
            result.command = f"SELECT {len(result.rows)}"
        return result

    async def _read(self, conn: AsyncConnection[Any], result: QueryResult,
                    caps: tuple[int | None, int | None]) -> None:
        """Collect the results of the statement just sent, up to the caps; raise its error, if any."""
        pg = conn.pgconn
        error: psycopg.Error | None = None
        while (res := await conn.wait(generators.fetch(pg))) is not None:
            if res.status in _COPY_STATES:
                raise _CopyUnsupported  # the connection is mid-COPY: the caller closes it
            if res.status == ExecStatus.FATAL_ERROR:
                error = error or pg_errors.error_from_result(res, encoding=conn.info.encoding)
                continue
            if not result.columns and res.nfields:
                result.columns = _columns(res)
            chunk = res.status in (ExecStatus.TUPLES_CHUNK, ExecStatus.SINGLE_TUPLE)
            if chunk and not result.truncated:
                self._take_rows(result, res, caps)
                if result.truncated:
                    await conn.cancel_safe()
            if res.command_status:
                result.command = res.command_status.decode()
        if error is not None and not result.truncated:
            raise error

    @staticmethod
    def _take_rows(result: QueryResult, res: PGresult, caps: tuple[int | None, int | None]) -> None:
        max_rows, max_bytes = caps
        ncols = res.nfields
        for r in range(res.ntuples):
            if max_rows is not None and len(result.rows) >= max_rows:
                result.truncated = True
                return
            values = [res.get_value(r, c) for c in range(ncols)]
            size = sum(len(v) for v in values if v is not None)
            if max_bytes is not None and result.bytes + size > max_bytes:
                result.truncated = True
                return
            result.bytes += size
            result.rows.append(values)

    async def ping(self) -> bool:
        """True when the upstream answers a trivial query (readiness)."""
        try:
            async with self.connection() as conn:
                await conn.execute("SELECT 1")
            return True
        except (VeilError, psycopg.Error, OSError):
            return False

    async def fetch_catalog(self, sql: str, params: Sequence[Param] = ()) -> list[list[str | None]]:
        """Run a fixed catalog query of ours (never caller SQL) and decode it as text."""
        result = await self.execute(sql, params, read_only=True)
        return [[None if v is None else v.decode() for v in row] for row in result.rows]

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            await self._idle.pop().close()


def _columns(res: PGresult) -> list[ColumnInfo]:
    return [ColumnInfo(name=(res.fname(i) or b"?").decode(), type_oid=res.ftype(i), format=0,
                       table_oid=res.ftable(i), attnum=res.ftablecol(i), type_modifier=res.fmod(i),
                       type_size=res.fsize(i))
            for i in range(res.nfields)]


async def _rollback(conn: AsyncConnection[Any]) -> None:
    if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("ROLLBACK")


async def _reset(conn: AsyncConnection[Any]) -> None:
    """Forget every session setting the statement may have made (SET, prepared statements, temp tables)."""
    await _rollback(conn)
    if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
        try:
            await conn.execute("DISCARD ALL")
        except psycopg.Error:
            await conn.close()  # an unknown state is never handed to the next identity
