"""The authorize step of the one path: SQL text -> StatementInfos -> policy -> Decision.

``Authorizer.authorize`` does, per request:

1. takes a leading ``/* veil.reason: ... */`` off into ``request.reason``;
2. analyses the SQL (``veil.sql.analyze``, cached); the legacy FunctionCall message
   becomes a UTILITY statement (refused for read-only access);
3. substitutes ``EXECUTE name`` with what ``PREPARE name`` was (per session), so a
   prepared read stays a read and a prepared write was refused at PREPARE;
4. asks the policy engine (``veil.policy``; the rules live there, not here);
5. refuses setting changes that would escape the policy (``statement_timeout`` above
   its limit, ``search_path`` under table rules);
6. applies the inference guard, which needs lineage and so cannot live in the
   policy layer: a statement that filters, joins, groups or sorts on a column that
   will be masked, beyond what ``predicates_on_masked`` allows, is refused;
7. sets ``request.statement`` (one info; several statements are merged) and
   ``request.decision``.

``load_catalog`` builds the lineage catalog from ``pg_catalog`` through any
``execute(sql) -> rows`` callable, so this module needs no driver and no socket.

Wiring (the composition root): one Authorizer per process, built with the PolicySet,
``column_tags=settings.columns`` and a catalog from ``load_catalog`` (reload it when
``catalog_stale`` turns true: an allowed DDL statement went through); ``plan_mask``
passes ``lineage_for(request, columns)`` to the mask planner; ``close_session`` calls
``forget_session``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from threading import Lock
from typing import Any, NamedTuple, Protocol

from veil.detect import category_of, name_hints
from veil.pipeline.hooks import Request, Session
from veil.sql import (
    EMPTY_CATALOG,
    Analyzer,
    Catalog,
    InMemoryCatalog,
    predicates,
    strip_reason_comment,
)
from veil.sql.classify import MAX_CACHED_SQL, shape_safe
from veil.sql.lineage import OutputLineage, PredicateUse, TooComplexError, lineage_all
from veil.sql.named import NamedStatements
from veil.sql.nodes import truthy
from veil.sql.settings import policy_escapes
from veil.sql.views import tables_behind
from veil.values import ColumnInfo, Decision, Identity, StatementInfo, StatementKind

FUNCTION_CALL = StatementInfo(
    kind=StatementKind.UTILITY, command="FunctionCall", normalized="<FunctionCall>",
    reasons=("the legacy FunctionCall message is not allowed for read-only access",),
)
INFERENCE_RULE = "inference-guard"
SETTINGS_RULE = "settings-guard"
NAME_HINT_CONFIDENCE = 0.7  # as the mask planner: weaker hints only steer the value scan
_KIND_ORDER = [StatementKind.UNKNOWN, StatementKind.DCL, StatementKind.DDL, StatementKind.UTILITY,
               StatementKind.WRITE, StatementKind.SESSION, StatementKind.TXN, StatementKind.READ]


class PolicyEngine(Protocol):
    """What the authorizer needs of ``veil.policy.PolicySet`` (matched structurally)."""

    digest: str

    def match(self, identity: Identity, *, client_addr: str) -> Any: ...

    def evaluate(self, identity: Identity, statements: Sequence[StatementInfo], *, client_addr: str,
                 reason: str | None) -> Decision: ...


MaskedCheck = Callable[[str, Decision], bool]


class _Columns(NamedTuple):
    outputs: list[list[OutputLineage]]
    predicates: tuple[PredicateUse, ...]


def _shape_of(infos: Sequence[StatementInfo]) -> str | None:
    """The statements' normalized text (constants as ``$n``), or None where it is unknown."""
    if infos and all(i.normalized and not i.normalized.startswith("<") for i in infos):
        return "\x00".join(i.normalized for i in infos)
    return None


class Authorizer:
    """Turns a Request into a Decision; see the module docstring for the steps."""

    def __init__(self, policies: PolicyEngine, *, catalog: Catalog | None = None,
                 column_tags: Mapping[str, str] | None = None, is_masked: MaskedCheck | None = None,
                 analyzer: Analyzer | None = None, max_sessions: int = 10_000,
                 max_prepared: int = 1_000, max_cached: int = 4_096) -> None:
        self.policies = policies
        self.catalog: Catalog = catalog or EMPTY_CATALOG
        self.column_tags = dict(column_tags or {})
        self.is_masked: MaskedCheck = is_masked or self._masked_by_tag_or_name
        self.analyzer = analyzer or Analyzer()
        self.named = NamedStatements(max_sessions=max_sessions, max_names=max_prepared)
        self._columns: OrderedDict[str, _Columns] = OrderedDict()
        # analysed + view-widened + lineage-filled infos per text (not for EXECUTE: session-dependent)
        self._filled: OrderedDict[str, tuple[StatementInfo, ...]] = OrderedDict()
        self._max_cached = max_cached
        self.catalog_stale = False  # an allowed DDL went through: the owner should reload the catalog
        self._lock = Lock()

    def set_policies(self, policies: PolicyEngine) -> None:
        """Use a reloaded PolicySet from the next request on (SIGHUP / file change)."""
        self.policies = policies

    def set_catalog(self, catalog: Catalog) -> None:
        """Use a freshly loaded catalog from the next request on (schema changes, reload)."""
        with self._lock:
            self.catalog = catalog
            self._columns.clear()
            self._filled.clear()
            self.catalog_stale = False

    def columns(self, sql: str) -> _Columns:
        """Lineage and predicate uses of ``sql`` (cached; the cache follows the catalog).

        The cache key is the normalized text (constants as ``$n``): lineage and predicate
        uses depend on the statement's structure, never on its literals, so ``WHERE id = 7``
        and ``WHERE id = 8`` share one entry (drivers that inline literals, pgbench -S).
        Raises ``TooComplexError`` (not cached) for statements nested too deeply.
        """
        key = self._shape_key(sql)
        with self._lock:
            found = self._columns.get(key)
            if found is not None:
                self._columns.move_to_end(key)
                return found
            catalog = self.catalog
        result = _Columns(lineage_all(sql, catalog), tuple(predicates(sql, catalog)))
        if len(key) <= MAX_CACHED_SQL:
            with self._lock:
                if self.catalog is catalog:
                    self._columns[key] = result
                    while len(self._columns) > self._max_cached:
                        self._columns.popitem(last=False)
        return result

    def _shape_key(self, sql: str) -> str:
        """The normalized text of ``sql`` (from the analyzer's cache), or the text itself."""
        shape = _shape_of(self.analyzer.analyze(sql))
        return shape if shape is not None else sql

    def forget_session(self, session: Session) -> None:
        """Drop a closed session's prepared statements and cursors."""
        self.named.forget(session.session_id)

    # ------------------------------------------------------------------------------
    def authorize(self, request: Request) -> Decision:
        reason, sql = strip_reason_comment(request.sql)
        if reason is not None:
            request.reason, request.sql = reason, sql
        statements = self.statements(request)
        session = request.session
        decision = self.policies.evaluate(session.identity, statements, client_addr=session.client_addr,
                                          reason=request.effective_reason)
        if decision.allowed and request.protocol != "function-call":
            decision = self._settings_guard(request, statements, decision)
        if decision.allowed and request.protocol != "function-call":
            decision = self._inference_guard(request, decision)
        request.statement = merge(statements) if statements else None
        request.decision = decision
        if decision.allowed and request.protocol != "function-call":
            self.named.observe(session.session_id, request.sql, statements)
            if any(i.kind == StatementKind.DDL for i in statements):
                self.catalog_stale = True
        return decision

    def statements(self, request: Request) -> tuple[StatementInfo, ...]:
        """The analysed statements of a request, EXECUTE resolved, columns filled from lineage."""
        if request.protocol == "function-call":
            return (FUNCTION_CALL,)
        infos = self.analyzer.analyze(request.sql)
        if any(i.command == "EXECUTE" for i in infos):  # depends on the session: not cached
            infos = self.named.resolve(request.session.session_id, request.sql, infos)
            return self._with_columns(request.sql, tuple(self._through_views(i) for i in infos))
        # Literal-free verdicts (plain reads: the analyzer's own criterion) share one entry per
        # shape, so drivers that inline literals (pgbench -S) do not redo views and lineage per
        # text; anything whose verdict may depend on a literal (SET, set_config) keeps its text.
        shape = _shape_of(infos)
        key = shape if shape is not None and shape_safe(infos) else request.sql
        with self._lock:
            found = self._filled.get(key)
            catalog = self.catalog
        if found is not None:
            return found
        filled = self._with_columns(request.sql, tuple(self._through_views(i) for i in infos))
        if len(key) <= MAX_CACHED_SQL:
            with self._lock:
                if self.catalog is catalog:
                    self._filled[key] = filled
                    while len(self._filled) > self._max_cached:
                        self._filled.popitem(last=False)
        return filled

    def _through_views(self, info: StatementInfo) -> StatementInfo:
        """``tables_read`` widened by the tables behind any views it names (table rules see them)."""
        if not info.tables_read:
            return info
        widened = tables_behind(self.catalog, info.tables_read)
        return info if widened == info.tables_read else replace(info, tables_read=widened)

    def _with_columns(self, sql: str, infos: tuple[StatementInfo, ...]) -> tuple[StatementInfo, ...]:
        if not any(i.kind == StatementKind.READ and i.tables_read for i in infos):
            return infos
        try:
            outputs, used = self.columns(sql)
        except TooComplexError:
            return infos  # columns_read stays empty; the inference guard fails closed on its own
        filled = []
        for index, info in enumerate(infos):
            columns = {s for o in (outputs[index] if index < len(outputs) else []) for s in o.sources}
            columns |= {p.column for p in used if p.column.rsplit(".", 1)[0] in info.tables_read}
            filled.append(replace(info, columns_read=frozenset(columns)) if columns else info)
        return tuple(filled)

    def lineage_for(self, request: Request, columns: Sequence[ColumnInfo]) -> list[OutputLineage] | None:
        """The lineage of the statement whose result ``columns`` (a RowDescription) describes.

        A request may hold several statements; the one whose output names match the
        RowDescription's, in order, is chosen.  Lineage is positional, so anything less
        than an exact match of names gives None (FunctionCall, unknown EXECUTE/FETCH, too
        complex, a shape lineage does not predict): the mask planner then falls back to
        names and values, never to "clean".  ``EXECUTE q`` / ``FETCH c`` take the lineage
        of the session's ``PREPARE q`` / ``DECLARE c``.
        """
        if request.protocol == "function-call":
            return None
        try:
            if NamedStatements.involved(self.analyzer.analyze(request.sql)):
                texts = self.named.sources(request.session.session_id, request.sql)
                outputs = [next(iter(self.columns(t).outputs), []) for t in texts]
            else:
                outputs = self.columns(request.sql).outputs
        except TooComplexError:
            return None
        names = [c.name for c in columns]
        same = [o for o in outputs if [x.name for x in o] == names]
        if same and all(s == same[0] for s in same):
            return same[0]
        return None

    # -- session settings ------------------------------------------------------------
    def _settings_guard(self, request: Request, statements: Sequence[StatementInfo],
                        decision: Decision) -> Decision:
        """Refuse SET/set_config that would escape the policy's timeout or table rules."""
        changed = [s for info in statements for s in info.settings]
        if not changed:
            return decision
        policy = self.policies.match(request.session.identity, client_addr=request.session.client_addr)
        allow = tuple(getattr(policy, "tables_allow", ("*",)))
        restricted = allow != ("*",) or bool(getattr(policy, "tables_deny", ()))
        why = policy_escapes(changed, timeout_ms=decision.statement_timeout_ms, tables_restricted=restricted)
        if why is None:
            return decision
        return replace(decision, allowed=False, rule_ids=(*decision.rule_ids, SETTINGS_RULE),
                       reasons=(*decision.reasons, why), sqlstate="42501")

    # -- inference guard -------------------------------------------------------------
    def _inference_guard(self, request: Request, decision: Decision) -> Decision:
        policy = self.policies.match(request.session.identity, client_addr=request.session.client_addr)
        mode = getattr(policy, "predicates_on_masked", None)
        if mode is None:
            mode = "deny" if request.session.identity.kind == "agent" else "equality"
        if mode == "allow" or not decision.mask or _masks_nothing(decision):
            return decision
        try:
            uses = self.columns(request.sql).predicates
        except TooComplexError as exc:
            return self._refuse(decision, f"{exc}, so predicates on masked columns cannot be checked")
        for use in uses:
            if use.equality and mode == "equality":
                continue
            if not self.is_masked(use.column, decision):
                continue
            how = "by equality" if use.equality else "beyond equality"
            reason = (f"{use.clause.upper()} uses the masked column {use.column} {how} "
                      f"(predicates_on_masked: {mode}), which could reveal the hidden value")
            return self._refuse(decision, reason)
        return decision

    @staticmethod
    def _refuse(decision: Decision, reason: str, rule: str = INFERENCE_RULE) -> Decision:
        return replace(decision, allowed=False, rule_ids=(*decision.rule_ids, rule),
                       reasons=(*decision.reasons, reason), sqlstate="42501")

    def _masked_by_tag_or_name(self, column: str, decision: Decision) -> bool:
        """Whether ``column`` will be masked: its ``columns:`` tag, else what its name suggests."""
        data_type = self.column_tags.get(column)
        if data_type is None:
            hints = name_hints(column.rsplit(".", 1)[-1])
            guesses = [g for g in hints if g.confidence >= NAME_HINT_CONFIDENCE]
            data_type = guesses[0].type if guesses else None
        if data_type is None or data_type == "none":
            return False
        mask = decision.mask_map()
        if data_type == "secret" and "secret" not in mask:
            return True  # as the mask engine: secrets are redacted unless ``secret`` itself says otherwise
        method = mask.get(data_type) or mask.get(category_of(data_type) or "") or mask.get("default")
        return method != "none"  # no entry at all: assume masked (fail closed)


def _masks_nothing(decision: Decision) -> bool:
    """Every method is ``none`` and secrets are named too (else they stay redacted)."""
    mask = decision.mask_map()
    return "secret" in mask and all(method == "none" for method in mask.values())


def merge(infos: Sequence[StatementInfo]) -> StatementInfo:
    """One StatementInfo for a request of several statements (the audit records one)."""
    if len(infos) == 1:
        return infos[0]
    kind = min((i.kind for i in infos), key=_KIND_ORDER.index)
    return StatementInfo(
        kind=kind,
        command=";".join(i.command for i in infos),
        tables_read=frozenset().union(*(i.tables_read for i in infos)),
        tables_written=frozenset().union(*(i.tables_written for i in infos)),
        functions=frozenset().union(*(i.functions for i in infos)),
        columns_read=frozenset().union(*(i.columns_read for i in infos)),
        normalized="; ".join(i.normalized for i in infos),
        fingerprint=",".join(i.fingerprint for i in infos),
        reasons=tuple(r for i in infos for r in i.reasons),
        settings=tuple(s for i in infos for s in i.settings),
        has_limit=all(i.has_limit for i in infos),
        statement_count=len(infos),
    )


# -- catalog ------------------------------------------------------------------------
_COLUMNS_SQL = """
SELECT n.nspname, c.relname, a.attname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND n.nspname <> 'pg_toast' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, c.relname, a.attnum
"""
_VIEWS_SQL = """
SELECT n.nspname, c.relname, pg_catalog.pg_get_viewdef(c.oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


def load_catalog(execute: Callable[[str], Iterable[Sequence[Any]]]) -> InMemoryCatalog:
    """The lineage catalog of a database, via ``execute(sql) -> rows`` (e.g. a psycopg cursor wrapper).

    System views' definitions are skipped: lineage into the system catalogs is never
    sensitive, and parsing them all would slow every reload.
    """
    tables: dict[str, list[str]] = {}
    for schema, table, column in execute(_COLUMNS_SQL):
        tables.setdefault(f"{schema}.{table}", []).append(str(column))
    views = {f"{schema}.{table}": str(definition) for schema, table, definition in execute(_VIEWS_SQL)
             if definition}
    return InMemoryCatalog(tables={k: tuple(v) for k, v in tables.items()}, views=views)


def read_only_breach(started: Mapping[str, str], name: str, value: str) -> str | None:
    """A FATAL reason when the server reports (ParameterStatus) that a read-only session turned read-write.

    A user function can run ``SET default_transaction_read_only = off`` (or ``set_config``)
    where the parser cannot see it; PostgreSQL >= 14 reports the change in a
    ParameterStatus message.  ``started`` is what ``upstream_parameters`` gave the
    session; the relay should end the session when this returns a reason.
    """
    if name.lower() != "default_transaction_read_only":
        return None
    if truthy(started.get("default_transaction_read_only")) is not True:
        return None
    if truthy(value) is True:
        return None
    return "veil: a function switched this read-only session to read-write, so the session is ended"
