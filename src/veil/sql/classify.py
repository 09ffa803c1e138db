"""SQL text -> one ``StatementInfo`` per statement, with PostgreSQL's own parser.

The contract with the policy engine: ``StatementInfo.reasons`` lists why a statement
is *not* acceptable under read-only access; empty reasons mean it is (kinds READ,
TXN and SESSION only).  Writes, DDL, DCL, utilities and UNKNOWN always carry a
reason, so a read-only check is "refuse if reasons", and a parser gap can only
ever refuse too much, never too little.

Caching: by the exact SQL text, in a bounded LRU.  Not by pglast's fingerprint,
although the brief suggested it: fingerprints ignore constants, and constants decide
here (``BEGIN READ ONLY`` and ``BEGIN READ WRITE`` share a fingerprint, as do
``set_config('application_name', ...)`` and ``set_config('transaction_read_only', ...)``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from functools import lru_cache
from threading import Lock
from typing import Any, NamedTuple

import pglast
from pglast import ast
from pglast.enums import TransactionStmtKind, VariableSetKind

from veil.sql.nodes import const_value, relation_name, truthy
from veil.sql.normalize import fingerprint, normalize
from veil.sql.reads import Collector, Facts
from veil.sql.settings import transaction_options, variable_set
from veil.values import StatementInfo, StatementKind

MAX_CACHED_SQL = 64 * 1024  # bigger texts (bulk INSERTs) are analysed every time, not kept

_READ_COMMANDS = {ast.SelectStmt: "SELECT", ast.VariableShowStmt: "SHOW", ast.FetchStmt: "FETCH"}
_SESSION_COMMANDS = {ast.DiscardStmt: "DISCARD", ast.DeallocateStmt: "DEALLOCATE",
                     ast.UnlistenStmt: "UNLISTEN", ast.ClosePortalStmt: "CLOSE"}
_UTILITY = {
    ast.DoStmt: ("DO", "DO runs procedural code"),
    ast.CallStmt: ("CALL", "CALL runs a procedure"),
    ast.LockStmt: ("LOCK", "LOCK takes table locks"),
    ast.ListenStmt: ("LISTEN", "LISTEN is not allowed for read-only access"),
    ast.NotifyStmt: ("NOTIFY", "NOTIFY is not allowed for read-only access"),
    ast.ClusterStmt: ("CLUSTER", "CLUSTER rewrites a table"),
    ast.ReindexStmt: ("REINDEX", "REINDEX rebuilds indexes"),
    ast.CheckPointStmt: ("CHECKPOINT", "CHECKPOINT is a server operation"),
    ast.LoadStmt: ("LOAD", "LOAD loads a server library"),
    ast.AlterSystemStmt: ("ALTER SYSTEM", "ALTER SYSTEM changes the server configuration"),
    ast.ExecuteStmt: ("EXECUTE", "EXECUTE of a prepared statement veil has not seen"),
}
_WRITES = {ast.TruncateStmt: "TRUNCATE", ast.RefreshMatViewStmt: "REFRESH MATERIALIZED VIEW"}
_DCL = (ast.GrantStmt, ast.GrantRoleStmt, ast.CreateRoleStmt, ast.AlterRoleStmt, ast.AlterRoleSetStmt,
        ast.DropRoleStmt, ast.AlterDefaultPrivilegesStmt, ast.ReassignOwnedStmt, ast.DropOwnedStmt)
_DDL_NAMES = {"IndexStmt", "ViewStmt", "RuleStmt", "RenameStmt", "CommentStmt", "DefineStmt",
              "CompositeTypeStmt", "ImportForeignSchemaStmt", "SecLabelStmt", "CreateTableAsStmt"}


READ_ONLY_KINDS = frozenset({StatementKind.READ, StatementKind.TXN, StatementKind.SESSION})


def read_only_violations(info: StatementInfo) -> tuple[str, ...]:
    """Why ``info`` may not run under read-only access; empty when it may.

    The policy engine's read-only check in one call: the statement's own reasons,
    or, defensively, a reason for any kind outside READ/TXN/SESSION (e.g. an info
    built elsewhere without reasons).
    """
    if info.reasons:
        return info.reasons
    if info.kind not in READ_ONLY_KINDS:
        return (f"a {info.kind.value} statement is not allowed for read-only access",)
    return ()


def analyze(sql: str) -> tuple[StatementInfo, ...]:
    """One ``StatementInfo`` per statement; unparseable text -> one UNKNOWN info.

    Cached (bounded) by exact text; see the module docstring for why not by fingerprint.
    """
    if len(sql) > MAX_CACHED_SQL:
        return analyze_uncached(sql)
    return _cached(sql)


@lru_cache(maxsize=8192)
def _cached(sql: str) -> tuple[StatementInfo, ...]:
    return analyze_uncached(sql)


class Analyzer:
    """``analyze`` with its own bounded caches and hit counters (benchmarks, tests).

    Two caches: by exact text, and by *shape* (the normalized text, literals as ``$n``)
    for plain reads only.  Drivers that inline literals (``WHERE aid = 4711``) make every
    text new; normalizing costs ~30 us against ~230 us for a full analysis.  The shape
    cache holds only results whose verdict cannot depend on a literal: every statement a
    READ, no setting changed, no ``set_config`` call (its setting name is a literal).
    ``BEGIN READ WRITE``, ``SET x = off`` and the like never enter it.
    """

    def __init__(self, cache_size: int = 8192) -> None:
        self._cache: OrderedDict[str, tuple[StatementInfo, ...]] = OrderedDict()
        self._shapes: OrderedDict[str, tuple[StatementInfo, ...]] = OrderedDict()
        self._size = cache_size
        self._lock = Lock()
        self.hits = 0
        self.shape_hits = 0
        self.misses = 0

    def analyze(self, sql: str) -> tuple[StatementInfo, ...]:
        with self._lock:
            found = self._cache.get(sql)
            if found is not None:
                self._cache.move_to_end(sql)
                self.hits += 1
                return found
        if len(sql) > MAX_CACHED_SQL:
            with self._lock:
                self.misses += 1
            return analyze_uncached(sql)
        shape = _shape(sql)
        with self._lock:
            result = self._shapes.get(shape) if shape is not None else None
            if result is not None and shape is not None:
                self._shapes.move_to_end(shape)
                self.shape_hits += 1
            else:
                self.misses += 1
        if result is None:
            result = analyze_uncached(sql)
            if shape is not None and shape_safe(result):
                with self._lock:
                    self._shapes[shape] = result
                    while len(self._shapes) > self._size:
                        self._shapes.popitem(last=False)
        with self._lock:
            self._cache[sql] = result
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return result


def _shape(sql: str) -> str | None:
    """PostgreSQL's own constant replacement (libpg_query, ~4 us), or None when it cannot parse."""
    try:
        return str(pglast.normalize(sql))
    except Exception:  # unparseable text is never shape-cached
        return None


def shape_safe(infos: tuple[StatementInfo, ...]) -> bool:
    """Whether this verdict holds for every statement of the same shape, whatever its literals."""
    return bool(infos) and all(
        i.kind == StatementKind.READ and not i.reasons and not i.settings
        and not any(f.rsplit(".", 1)[-1] == "set_config" for f in i.functions)
        for i in infos)


def analyze_uncached(sql: str) -> tuple[StatementInfo, ...]:
    """``analyze`` without any cache."""
    try:
        raws = pglast.parse_sql(sql)
    except Exception:
        # never echo the parser's message: it quotes the text near the error, i.e. data
        return (StatementInfo(kind=StatementKind.UNKNOWN, normalized=normalize(sql),
                              fingerprint=fingerprint(sql), reasons=("the statement could not be parsed",)),)
    infos: list[StatementInfo] = []
    for raw in raws:
        text = _statement_text(sql, raw)
        try:
            infos.append(classify_statement(raw.stmt, text))
        except RecursionError:  # nesting deeper than the walk allows: fail closed
            infos.append(StatementInfo(kind=StatementKind.UNKNOWN, normalized=normalize(text),
                                       fingerprint=fingerprint(text),
                                       reasons=("the statement is nested too deeply to analyse",)))
    if len(infos) > 1:
        infos = [replace(i, statement_count=len(infos)) for i in infos]
    return tuple(infos)


class NamedStatement(NamedTuple):
    """What one statement does to the session's named objects (see ``statement_names``)."""

    command: str  # PREPARE EXECUTE DEALLOCATE DECLARE FETCH CLOSE DISCARD, or "" for anything else
    name: str | None  # None: all of them (DEALLOCATE ALL, CLOSE ALL, DISCARD ALL)
    text: str  # the statement's own SQL


def statement_names(sql: str) -> list[NamedStatement]:
    """Per statement, the prepared statement or cursor it creates, uses or drops.

    The authorizer keeps these per session, so ``EXECUTE q`` is judged (and its rows
    masked) as what ``PREPARE q`` was, and ``FETCH FROM c`` as what ``DECLARE c`` was.
    """
    try:
        raws = pglast.parse_sql(sql)
    except Exception:
        return []
    names: list[NamedStatement] = []
    for raw in raws:
        stmt, text = raw.stmt, _statement_text(sql, raw)
        if isinstance(stmt, ast.PrepareStmt):
            names.append(NamedStatement("PREPARE", stmt.name, text))
        elif isinstance(stmt, ast.ExecuteStmt):
            names.append(NamedStatement("EXECUTE", stmt.name, text))
        elif isinstance(stmt, ast.DeallocateStmt):
            names.append(NamedStatement("DEALLOCATE", None if stmt.isall else stmt.name, text))
        elif isinstance(stmt, ast.DeclareCursorStmt):
            names.append(NamedStatement("DECLARE", stmt.portalname, text))
        elif isinstance(stmt, ast.FetchStmt):
            names.append(NamedStatement("MOVE" if stmt.ismove else "FETCH", stmt.portalname, text))
        elif isinstance(stmt, ast.ClosePortalStmt):
            names.append(NamedStatement("CLOSE", stmt.portalname, text))
        elif isinstance(stmt, ast.DiscardStmt):
            names.append(NamedStatement("DISCARD", None, text))
        else:
            names.append(NamedStatement("", None, text))
    return names


def _statement_text(sql: str, raw: ast.RawStmt) -> str:
    start = raw.stmt_location or 0
    return sql[start:start + raw.stmt_len] if raw.stmt_len else sql[start:]


def classify_statement(stmt: Any, text: str = "") -> StatementInfo:
    """Classify one parsed statement; ``text`` is its SQL (for normalize/fingerprint)."""
    kind, command, facts, has_limit = _classify(stmt)
    if facts.reasons and kind in (StatementKind.READ, StatementKind.TXN, StatementKind.SESSION):
        kind = _escalate(facts, kind)
    return StatementInfo(
        kind=kind, command=command,
        tables_read=frozenset(facts.tables_read), tables_written=frozenset(facts.tables_written),
        functions=frozenset(facts.functions),
        normalized=normalize(text) if text else "", fingerprint=fingerprint(text) if text else "",
        reasons=tuple(facts.reasons), settings=tuple(facts.settings), has_limit=has_limit,
    )


def _escalate(facts: Facts, kind: StatementKind) -> StatementKind:
    """A read that writes (data-modifying CTE, FOR UPDATE, SELECT INTO) is not a read."""
    if facts.creates:
        return StatementKind.DDL
    if facts.writes:
        return StatementKind.WRITE
    return kind


def _query(stmt: Any) -> Facts:
    collector = Collector()
    collector.visit(stmt)
    return collector.facts


def _classify(stmt: Any) -> tuple[StatementKind, str, Facts, bool]:
    if isinstance(stmt, ast.SelectStmt):
        # LIMIT ALL / LIMIT NULL parse as a NULL constant: no limit at all
        limit = stmt.limitCount
        has_limit = limit is not None and not (isinstance(limit, ast.A_Const) and limit.isnull)
        return StatementKind.READ, "SELECT", _query(stmt), has_limit
    if isinstance(stmt, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)):
        facts = _query(stmt)
        return StatementKind.WRITE, stmt.__class__.__name__[:-4].upper(), facts, False
    handler = _HANDLERS.get(type(stmt))
    if handler is not None:
        kind, command, facts = handler(stmt)
        return kind, command, facts, False
    kind, command, facts = _by_table(stmt)
    return kind, command, facts, False


def _by_table(stmt: Any) -> tuple[StatementKind, str, Facts]:
    facts = Facts()
    cls = type(stmt)
    name = cls.__name__
    if cls in _READ_COMMANDS:
        return StatementKind.READ, _READ_COMMANDS[cls], facts
    if cls in _SESSION_COMMANDS:
        return StatementKind.SESSION, _SESSION_COMMANDS[cls], facts
    if cls in _UTILITY:
        command, reason = _UTILITY[cls]
        if isinstance(stmt, ast.CallStmt) and stmt.funccall is not None:
            facts = _query(stmt.funccall)
        facts.reason(reason)
        return StatementKind.UTILITY, command, facts
    if cls in _WRITES:
        facts = _query(stmt)
        facts.tables_written |= facts.tables_read
        facts.tables_read = set()
        facts.reason(f"{_WRITES[cls]} writes data")
        return StatementKind.WRITE, _WRITES[cls], facts
    if isinstance(stmt, _DCL):
        facts.reason("changing privileges or roles is not allowed for read-only access")
        return StatementKind.DCL, _command_words(name), facts
    if isinstance(stmt, ast.CreateTableAsStmt):
        facts = _query(stmt.query)
        if stmt.into is not None:
            facts.tables_written.add(relation_name(stmt.into.rel))
    if name.startswith(("Create", "Alter", "Drop")) or name in _DDL_NAMES:
        facts.reason("changing the schema (DDL) is not allowed for read-only access")
        return StatementKind.DDL, _command_words(name), facts
    facts.reason(f"veil does not recognise this statement ({name}), so it is not treated as a read")
    return StatementKind.UNKNOWN, _command_words(name), facts


def _command_words(class_name: str) -> str:
    """``CreateTableAsStmt`` -> ``CREATE TABLE AS``: a command label without any user text."""
    base = class_name[:-4] if class_name.endswith("Stmt") else class_name
    words, current = [], ""
    for ch in base:
        if ch.isupper() and current:
            words.append(current)
            current = ""
        current += ch
    words.append(current)
    return " ".join(words).upper()


def _copy(stmt: ast.CopyStmt) -> tuple[StatementKind, str, Facts]:
    facts = _query(stmt.query) if stmt.query is not None else Facts()
    if stmt.relation is not None:
        target = Collector()
        target.visit(stmt.relation)
        (facts.tables_written if stmt.is_from else facts.tables_read).update(target.facts.tables_read)
    if stmt.is_from:
        facts.reason("COPY FROM writes data")
        return StatementKind.WRITE, "COPY", facts
    if stmt.is_program:
        facts.reason("COPY TO PROGRAM runs a server program")
        return StatementKind.UTILITY, "COPY", facts
    if stmt.filename is not None:
        facts.reason("COPY TO a server file writes to the server")
        return StatementKind.UTILITY, "COPY", facts
    kind = StatementKind.READ if not facts.reasons else _escalate(facts, StatementKind.READ)
    return kind, "COPY", facts


def _explain(stmt: ast.ExplainStmt) -> tuple[StatementKind, str, Facts]:
    inner_kind, _, facts, _ = _classify(stmt.query)
    analyzing = any(isinstance(o, ast.DefElem) and o.defname == "analyze" and _option_on(o.arg)
                    for o in stmt.options or ())
    if analyzing:
        # EXPLAIN ANALYZE runs the statement: it is exactly as dangerous as the statement
        facts.reasons = [f"EXPLAIN ANALYZE runs it: {r}" for r in facts.reasons]
        return (inner_kind if facts.reasons else StatementKind.READ), "EXPLAIN", facts
    facts.reasons = []  # plain EXPLAIN only plans; the tables still count for table rules
    facts.settings = []
    return StatementKind.READ, "EXPLAIN", facts


def _option_on(arg: Any) -> bool:
    if arg is None:
        return True
    return truthy(const_value(arg)) is not False


def _prepare(stmt: ast.PrepareStmt) -> tuple[StatementKind, str, Facts]:
    kind, _, facts, _ = _classify(stmt.query)
    facts.reasons = [f"PREPARE of a statement that is not a read: {r}" for r in facts.reasons]
    return kind, "PREPARE", facts


def _declare(stmt: ast.DeclareCursorStmt) -> tuple[StatementKind, str, Facts]:
    kind, _, facts, _ = _classify(stmt.query)
    return kind, "DECLARE CURSOR", facts


def _variable_set(stmt: ast.VariableSetStmt) -> tuple[StatementKind, str, Facts]:
    facts = Facts()
    settings, reasons = variable_set(stmt)
    facts.settings.extend(settings)
    for reason in reasons:
        facts.reason(reason)
    command = "RESET" if stmt.kind in (VariableSetKind.VAR_RESET, VariableSetKind.VAR_RESET_ALL) else "SET"
    return StatementKind.SESSION, command, facts


_TWO_PHASE = {TransactionStmtKind.TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
              TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
              TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED"}


def _transaction(stmt: ast.TransactionStmt) -> tuple[StatementKind, str, Facts]:
    facts = Facts()
    if stmt.kind in _TWO_PHASE:
        facts.reason(f"{_TWO_PHASE[stmt.kind]} (two-phase commit) is not allowed for read-only access")
        return StatementKind.TXN, _TWO_PHASE[stmt.kind], facts
    for reason in transaction_options(stmt.options):
        facts.reason(reason)
    command = str(getattr(stmt.kind, "name", "")).removeprefix("TRANS_STMT_").replace("_", " ")
    return StatementKind.TXN, command, facts


def _vacuum(stmt: ast.VacuumStmt) -> tuple[StatementKind, str, Facts]:
    facts = Facts()
    command = "VACUUM" if stmt.is_vacuumcmd else "ANALYZE"
    facts.reason(f"{command} is a maintenance command, not allowed for read-only access")
    return StatementKind.UTILITY, command, facts


def _constraints(stmt: ast.ConstraintsSetStmt) -> tuple[StatementKind, str, Facts]:
    return StatementKind.TXN, "SET CONSTRAINTS", Facts()


def _create_extension(stmt: ast.CreateExtensionStmt) -> tuple[StatementKind, str, Facts]:
    facts = Facts()
    facts.reason("CREATE EXTENSION is not allowed for read-only access")
    return StatementKind.DDL, "CREATE EXTENSION", facts


_HANDLERS: dict[type, Any] = {
    ast.CopyStmt: _copy,
    ast.ExplainStmt: _explain,
    ast.PrepareStmt: _prepare,
    ast.DeclareCursorStmt: _declare,
    ast.VariableSetStmt: _variable_set,
    ast.TransactionStmt: _transaction,
    ast.VacuumStmt: _vacuum,
    ast.ConstraintsSetStmt: _constraints,
    ast.CreateExtensionStmt: _create_extension,
}
