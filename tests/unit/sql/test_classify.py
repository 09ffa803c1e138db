"""Classification tables: every read-only refusal reason of issue 7, and the reads that must stay reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.sql import Analyzer, analyze, analyze_uncached, read_only_violations
from veil.values import StatementInfo, StatementKind

R, W, DDL, DCL = StatementKind.READ, StatementKind.WRITE, StatementKind.DDL, StatementKind.DCL
TXN, SES, UTIL, UNK = StatementKind.TXN, StatementKind.SESSION, StatementKind.UTILITY, StatementKind.UNKNOWN


def one(sql: str) -> StatementInfo:
    infos = analyze(sql)
    assert len(infos) == 1
    return infos[0]


REFUSED = [
    # (sql, kind, command, a word the reason must contain)
    ("INSERT INTO t VALUES (1)", W, "INSERT", "INSERT"),
    ("update t set a = 1", W, "UPDATE", "UPDATE"),
    ("DELETE FROM t", W, "DELETE", "DELETE"),
    ("merge into t using s on t.a = s.a when matched then delete", W, "MERGE", "MERGE"),
    ("TRUNCATE t", W, "TRUNCATE", "TRUNCATE"),
    ("create table x (a int)", DDL, "CREATE", "DDL"),
    ("drop table t", DDL, "DROP", "DDL"),
    ("alter table t add column b int", DDL, "ALTER TABLE", "DDL"),
    ("create or replace function f() returns int language sql as 'select 1'", DDL, "CREATE FUNCTION", "DDL"),
    ("create view v as select 1", DDL, "VIEW", "DDL"),
    ("create index on t (a)", DDL, "INDEX", "DDL"),
    ("comment on table t is 'x'", DDL, "COMMENT", "DDL"),
    ("create table a as select * from b", DDL, "CREATE TABLE AS", "DDL"),
    ("grant select on t to bob", DCL, "GRANT", "privileges"),
    ("revoke select on t from bob", DCL, "GRANT", "privileges"),
    ("create role evil superuser", DCL, "CREATE ROLE", "roles"),
    ("alter role analyst set default_transaction_read_only = off", DCL, "ALTER ROLE SET", "roles"),
    ("copy t from stdin", W, "COPY", "COPY FROM"),
    ("copy t to '/tmp/out'", UTIL, "COPY", "server file"),
    ("copy (select 1) to program 'id'", UTIL, "COPY", "PROGRAM"),
    ("copy t from program 'id'", W, "COPY", "COPY FROM"),
    ("copy (delete from t returning *) to stdout", W, "COPY", "DELETE"),
    ("explain (analyze) select lo_import('x')", R, "EXPLAIN", "lo_import"),
    ("select * from t where a = (with d as (delete from t returning a) select a from d)", W, "SELECT",
     "WITH"),
    ("values (nextval('s'))", R, "SELECT", "nextval"),
    ("select 1 limit (select nextval('s'))", R, "SELECT", "nextval"),
    ("DO $$ BEGIN DELETE FROM t; END $$", UTIL, "DO", "DO"),
    ("call p()", UTIL, "CALL", "CALL"),
    ("lock table t in access exclusive mode", UTIL, "LOCK", "LOCK"),
    ("select * from t for update", W, "SELECT", "FOR UPDATE"),
    ("select * from t for share", W, "SELECT", "FOR SHARE"),
    ("select * from t for no key update skip locked", W, "SELECT", "FOR NO KEY UPDATE"),
    ("select * from (select * from t for key share) s", W, "SELECT", "FOR KEY SHARE"),
    ("prepare p as delete from t", W, "PREPARE", "DELETE"),
    ("execute p", UTIL, "EXECUTE", "EXECUTE"),
    ("explain analyze delete from t", W, "EXPLAIN", "EXPLAIN ANALYZE"),
    ("explain (analyze true, buffers) insert into t values (1)", W, "EXPLAIN", "INSERT"),
    ("explain analyze select * from t for update", W, "EXPLAIN", "FOR UPDATE"),
    ("vacuum", UTIL, "VACUUM", "VACUUM"),
    ("vacuum full t", UTIL, "VACUUM", "VACUUM"),
    ("analyze t", UTIL, "ANALYZE", "ANALYZE"),
    ("cluster t using i", UTIL, "CLUSTER", "CLUSTER"),
    ("reindex table t", UTIL, "REINDEX", "REINDEX"),
    ("listen ch", UTIL, "LISTEN", "LISTEN"),
    ("notify ch, 'x'", UTIL, "NOTIFY", "NOTIFY"),
    ("alter system set fsync = off", UTIL, "ALTER SYSTEM", "ALTER SYSTEM"),
    ("create extension dblink", DDL, "CREATE EXTENSION", "EXTENSION"),
    ("select * into t2 from t", DDL, "SELECT", "SELECT INTO"),
    ("with d as (delete from t returning *) select * from d", W, "SELECT", "data-modifying WITH (DELETE)"),
    ("with x as (select 1), y as (with z as (update t set a = 1 returning a) select * from z) "
     "select * from y", W, "SELECT", "data-modifying WITH (UPDATE)"),
    ("refresh materialized view m", W, "REFRESH MATERIALIZED VIEW", "REFRESH"),
    ("checkpoint", UTIL, "CHECKPOINT", "CHECKPOINT"),
    ("load 'auto_explain'", UTIL, "LOAD", "LOAD"),
    ("prepare transaction 'x'", TXN, "PREPARE TRANSACTION", "two-phase"),
    ("commit prepared 'x'", TXN, "COMMIT PREPARED", "two-phase"),
    ("set default_transaction_read_only = off", SES, "SET", "default_transaction_read_only"),
    ("SET default_transaction_read_only TO false", SES, "SET", "default_transaction_read_only"),
    ("set session default_transaction_read_only = 'no'", SES, "SET", "default_transaction_read_only"),
    ("set default_transaction_read_only to default", SES, "SET", "RESET"),
    ("reset default_transaction_read_only", SES, "RESET", "RESET"),
    ("set transaction_read_only = off", SES, "SET", "transaction_read_only"),
    ("set transaction read write", SES, "SET", "READ WRITE"),
    ("set session characteristics as transaction read write", SES, "SET", "READ WRITE"),
    ("begin read write", TXN, "BEGIN", "READ WRITE"),
    ("start transaction isolation level serializable, read write", TXN, "START", "READ WRITE"),
    ("set role postgres", SES, "SET", "role"),
    ("set session authorization postgres", SES, "SET", "session_authorization"),
    ("set search_path = private, public", SES, "SET", "search_path"),
    ("select set_config('default_transaction_read_only', 'off', false)", R, "SELECT",
     "default_transaction_read_only"),
    ("select pg_catalog.set_config('transaction_read_only', 'off', true)", R, "SELECT",
     "transaction_read_only"),
    ("select set_config(current_user, 'off', false)", R, "SELECT", "computed"),
    ("select set_config('default_transaction_read_only', current_setting('x'), false)", R, "SELECT",
     "default_transaction_read_only"),
    ("select pg_read_file('/etc/passwd')", R, "SELECT", "pg_read_file"),
    ("select * from pg_ls_dir('.')", R, "SELECT", "pg_ls_dir"),
    ("select lo_import('/etc/passwd')", R, "SELECT", "lo_import"),
    ("select lo_export(1, '/tmp/x')", R, "SELECT", "lo_export"),
    ("select * from public.dblink('host=x', 'delete from t') as r(a int)", R, "SELECT", "dblink"),
    ("select pg_terminate_backend(1)", R, "SELECT", "pg_terminate_backend"),
    ("select pg_cancel_backend(1)", R, "SELECT", "pg_cancel_backend"),
    ("select pg_reload_conf()", R, "SELECT", "pg_reload_conf"),
    ("select pg_rotate_logfile()", R, "SELECT", "pg_rotate_logfile"),
    ("select nextval('s')", R, "SELECT", "nextval"),
    ("select setval('s', 1)", R, "SELECT", "setval"),
    ("select pg_advisory_lock(1)", R, "SELECT", "pg_advisory_lock"),
    ("select pg_try_advisory_xact_lock(1)", R, "SELECT", "pg_try_advisory_xact_lock"),
    ("select query_to_xml('delete from t returning 1', true, true, '')", R, "SELECT", "query_to_xml"),
    ("select pg_notify('ch', 'x')", R, "SELECT", "pg_notify"),
    ("select a from t where a in (select nextval('s'))", R, "SELECT", "nextval"),
    ("sellect * from t", UNK, "", "parsed"),
    ("select 'unterminated", UNK, "", "parsed"),
    ("create publication p for all tables", DDL, "CREATE PUBLICATION", "DDL"),
    ("security label on table t is 'x'", DDL, "SEC LABEL", "DDL"),
]


@pytest.mark.parametrize(("sql", "kind", "command", "word"), REFUSED, ids=[r[0][:50] for r in REFUSED])
def test_refused_under_read_only(sql: str, kind: StatementKind, command: str, word: str) -> None:
    info = one(sql)
    assert info.kind == kind
    assert info.command == command
    violations = read_only_violations(info)
    assert violations, info
    assert any(word.lower() in v.lower() for v in violations), violations


ALLOWED = [
    ("select 1", R, "SELECT"),
    ("SELECT a, b FROM t WHERE a = $1 ORDER BY b LIMIT 10", R, "SELECT"),
    ("values (1), (2)", R, "SELECT"),
    ("with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) select * from r", R,
     "SELECT"),
    ("select upper(email), count(*) from customers group by 1", R, "SELECT"),
    ("explain select * from t", R, "EXPLAIN"),
    ("explain delete from t", R, "EXPLAIN"),  # plans only; nothing runs
    ("explain (analyze false) delete from t", R, "EXPLAIN"),
    ("explain analyze select * from t", R, "EXPLAIN"),
    ("copy t to stdout", R, "COPY"),
    ("copy (select a from t) to stdout with (format csv)", R, "COPY"),
    ("prepare p as select * from t where a = $1", R, "PREPARE"),
    ("declare c cursor with hold for select * from t", R, "DECLARE CURSOR"),
    ("fetch 10 from c", R, "FETCH"),
    ("show transaction_read_only", R, "SHOW"),
    ("begin", TXN, "BEGIN"),
    ("begin read only", TXN, "BEGIN"),
    ("start transaction isolation level repeatable read, read only", TXN, "START"),
    ("commit", TXN, "COMMIT"),
    ("rollback", TXN, "ROLLBACK"),
    ("savepoint s", TXN, "SAVEPOINT"),
    ("set constraints all deferred", TXN, "SET CONSTRAINTS"),
    ("set default_transaction_read_only = on", SES, "SET"),
    ("set transaction read only", SES, "SET"),
    ("set application_name = 'x'", SES, "SET"),
    ("set extra_float_digits = 3", SES, "SET"),
    ("set time zone 'UTC'", SES, "SET"),
    ("set statement_timeout = 0", SES, "SET"),
    ("reset all", SES, "RESET"),
    ("discard all", SES, "DISCARD"),
    ("deallocate all", SES, "DEALLOCATE"),
    ("close c", SES, "CLOSE"),
    ("unlisten *", SES, "UNLISTEN"),
    ("select set_config('application_name', 'x', false)", R, "SELECT"),
    ("select set_config('transaction_read_only', 'on', true)", R, "SELECT"),
    ("select pg_sleep(0)", R, "SELECT"),  # only denied when a policy lists it
    ('set search_path = "$user", public', SES, "SET"),  # the default path: what table rules assume
    ("set search_path to public", SES, "SET"),
    ("reset search_path", SES, "RESET"),
]


@pytest.mark.parametrize(("sql", "kind", "command"), ALLOWED, ids=[a[0][:50] for a in ALLOWED])
def test_allowed_under_read_only(sql: str, kind: StatementKind, command: str) -> None:
    info = one(sql)
    assert (info.kind, info.command) == (kind, command)
    assert read_only_violations(info) == ()


TABLES = [
    ("select * from t", {"public.t"}, set()),
    ("select * from Sales.Orders o join \"Public\".\"T\" x on true", {"sales.orders", "Public.T"}, set()),
    ("select * from db.s.t", {"s.t"}, set()),
    ("select * from pg_class, information_schema.tables",
     {"pg_catalog.pg_class", "information_schema.tables"}, set()),
    ("select U&\"\\0073ecret\".a from U&\"\\0073ecret\"", {"public.secret"}, set()),
    ("with secret as (select 1) select * from secret", set(), set()),
    # a CTE shadows a table only inside its own statement
    ("select * from (with secret as (select 1) select * from secret) a, secret", {"public.secret"}, set()),
    # non-recursive CTEs only see the ones before them
    ("with a as (select * from b), b as (select 1) select * from a, b", {"public.b"}, set()),
    ("with recursive a as (select * from b), b as (select 1) select * from a", set(), set()),
    ("select * from t where x in (select y from s.u) and exists (select 1 from v)",
     {"public.t", "s.u", "public.v"}, set()),
    ("select * from t, lateral (select * from u where u.id = t.id) l", {"public.t", "public.u"}, set()),
    ("select 1 union select a from u", {"public.u"}, set()),
    ("update t set a = u.a from u where t.id = u.id", {"public.u"}, {"public.t"}),
    ("insert into t select * from u", {"public.u"}, {"public.t"}),
    ("with d as (delete from t returning *) insert into archive select * from d", set(),
     {"public.t", "public.archive"}),
    ("copy t to stdout", {"public.t"}, set()),
    ("copy s.t from stdin", set(), {"s.t"}),
    ("explain select * from t", {"public.t"}, set()),
    ("prepare p as select * from t", {"public.t"}, set()),
    ("select * into t2 from t", {"public.t"}, {"public.t2"}),
]


@pytest.mark.parametrize(("sql", "read", "written"), TABLES, ids=[t[0][:50] for t in TABLES])
def test_tables(sql: str, read: set[str], written: set[str]) -> None:
    info = one(sql)
    assert info.tables_read == read
    assert info.tables_written == written


def test_functions_lower_case_and_catalog_schema_stripped() -> None:
    info = one("select PG_CATALOG.Upper(a), my.F(b), count(*) from t")
    assert info.functions == {"upper", "my.f", "count"}


def test_several_statements_each_classified() -> None:
    infos = analyze("select 1; delete from t; set application_name = 'x'")
    assert [i.kind for i in infos] == [R, W, SES]
    assert [i.statement_count for i in infos] == [3, 3, 3]
    assert one("select 1").statement_count == 1
    assert [i.normalized for i in infos] == ["select $1", "delete from t", "set application_name = $1"]


def test_empty_query_has_no_statements() -> None:
    assert analyze("") == ()
    assert analyze(" ; -- nothing\n") == ()


def test_settings_and_limit_reported() -> None:
    assert one("set application_name to 'psql'").settings == (("application_name", "psql"),)
    assert one("set session characteristics as transaction read only").settings == (
        ("default_transaction_read_only", "1"),)
    assert one("select 1 limit 3").has_limit
    assert one("select 1 fetch first 3 rows only").has_limit
    assert not one("select * from (select 1 limit 3) s").has_limit
    assert not one("select 1 limit all").has_limit
    assert not one("select 1 limit null").has_limit
    assert one("select 1 limit $1").has_limit


def test_parse_error_reason_never_quotes_the_text() -> None:
    info = one("select 'alice@example.com' frm t")
    assert info.kind == UNK
    assert "alice" not in " ".join(info.reasons)
    assert "alice" not in info.normalized


def test_unknown_is_never_read_only_safe() -> None:
    assert read_only_violations(StatementInfo(kind=UNK))
    assert read_only_violations(StatementInfo(kind=W))
    assert not read_only_violations(StatementInfo(kind=R))


def test_cache_hits_and_same_result() -> None:
    analyzer = Analyzer(cache_size=2)
    first = analyzer.analyze("select 1")
    assert analyzer.analyze("select 1") is first
    assert (analyzer.hits, analyzer.misses) == (1, 1)
    analyzer.analyze("select 2")  # same shape as "select 1": a shape hit, no analysis
    assert (analyzer.shape_hits, analyzer.misses) == (1, 1)
    analyzer.analyze("select 'a', 3")  # a new shape: analysed
    analyzer.analyze("select 'b', 4")  # its shape again
    assert analyzer.analyze("select 1") == first  # text evicted (size 2), its shape still cached
    assert (analyzer.misses, analyzer.shape_hits) == (2, 3)
    assert first == analyze_uncached("select 1")


@pytest.mark.parametrize("first, second", [
    ("begin read only", "begin read write"),
    ("set default_transaction_read_only = on", "set default_transaction_read_only = off"),
    ("select set_config('application_name', 'x', false)",
     "select set_config('default_transaction_read_only', 'off', false)"),
    ("select 1 from t where a = 1", "select 1 from t where a = 1 for update"),
])
def test_shape_cache_never_carries_a_verdict_to_another_statement(first: str, second: str) -> None:
    analyzer = Analyzer()
    analyzer.analyze(first)
    assert analyzer.analyze(second) == analyze_uncached(second)
    assert read_only_violations(analyzer.analyze(second)[0])


def test_cache_is_not_keyed_by_fingerprint() -> None:
    # same fingerprint, opposite verdicts: a fingerprint-keyed cache would get one wrong
    assert one("begin read only").fingerprint == one("begin read write").fingerprint
    assert read_only_violations(one("begin read only")) == ()
    assert read_only_violations(one("begin read write"))


def test_deep_nesting_fails_closed() -> None:
    deep = "select " + "(select " * 1200 + "1" + ")" * 1200
    [info] = analyze_uncached(deep)
    assert info.kind == UNK
    assert info.reasons == ("the statement is nested too deeply to analyse",)


TOKENS = ["select", "delete", "from", "t", "where", "(", ")", ",", "1", "'x'", "with", "as", "insert", "into",
          "values", "set", "update", "=", ";", "for", "update", "begin", "read", "write", "copy", "to",
          "stdout", "explain", "analyze", "lo_import", "*", "returning", "union", "lateral", "join", "on",
          "prepare", "p"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14))
def test_analyze_never_raises_and_writes_are_never_safe(words: list[str]) -> None:
    sql = " ".join(words)
    for info in analyze_uncached(sql):
        assert isinstance(info.kind, StatementKind)
        if info.tables_written or info.kind in (W, DDL, DCL, UTIL, UNK):
            assert read_only_violations(info)
