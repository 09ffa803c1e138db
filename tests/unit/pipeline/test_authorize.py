"""The authorize service: reason comments, analysis, prepared EXECUTE, the inference guard, catalog."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from veil.config import parse_config
from veil.pipeline.authorize import INFERENCE_RULE, Authorizer, load_catalog, merge, read_only_breach
from veil.pipeline.hooks import Request, Session
from veil.policy import PolicySet
from veil.sql import InMemoryCatalog, analyze, lineage
from veil.values import ColumnInfo, Identity, StatementKind


def policies(mode: str | None = None, mask: str = "{default: pseudonymize}") -> PolicySet:
    """A real PolicySet with one read-only policy for alice (human) and bob (agent)."""
    extra = f", predicates_on_masked: {mode}" if mode else ""
    settings = parse_config(f"""
upstream: {{postgres: "postgresql://u@127.0.0.1:5432/db"}}
identity: {{users: [{{name: alice, password: x}}, {{name: bob, password: y, kind: agent}}]}}
policies:
  - {{name: readers, when: {{identities: [alice, bob]}}, access: read-only, mask: {mask}{extra}}}
""")
    return PolicySet.from_settings(settings)


CATALOG = InMemoryCatalog(tables={"public.customers": ["id", "name", "email", "ssn", "note"]})


def request(
    sql: str, *, kind: str = "human", session: Session | None = None, protocol: str = "simple"
) -> Request:
    session = session or Session(Identity("alice" if kind == "human" else "bob", kind=kind))  # type: ignore[arg-type]
    return Request(session, sql, protocol=protocol)


def test_reason_comment_moves_into_the_request() -> None:
    policy = policies()
    req = request("/* veil.reason: TICKET-7 */ select id from customers")
    decision = Authorizer(policy, catalog=CATALOG).authorize(req)
    assert decision.allowed
    assert (req.reason, req.sql) == ("TICKET-7", "select id from customers")
    assert req.statement is not None and req.statement.tables_read == {"public.customers"}
    assert req.decision is decision


def test_refusal_carries_the_sql_reason() -> None:
    req = request("delete from customers")
    decision = Authorizer(policies(), catalog=CATALOG).authorize(req)
    assert not decision.allowed
    assert decision.reasons == ('policy "readers" refuses: DELETE writes data',)
    assert req.statement is not None and req.statement.kind == StatementKind.WRITE


def test_function_call_message_is_not_a_read() -> None:
    req = request("/* FunctionCall */ SELECT function_oid_764()", protocol="function-call")
    decision = Authorizer(policies(), catalog=CATALOG).authorize(req)
    assert not decision.allowed
    assert "FunctionCall" in decision.reasons[0]


def test_execute_of_a_prepared_read_is_a_read_and_unknown_execute_is_refused() -> None:
    authorizer = Authorizer(policies(), catalog=CATALOG)
    session = Session(Identity("alice"))
    assert not authorizer.authorize(request("execute q(1)", session=session)).allowed
    assert authorizer.authorize(
        request("prepare q as select id from customers where id = $1", session=session)
    ).allowed
    req = request("execute q(1)", session=session)
    assert authorizer.authorize(req).allowed
    assert req.statement is not None and req.statement.tables_read == {"public.customers"}
    assert not authorizer.authorize(request("prepare w as delete from customers", session=session)).allowed
    assert not authorizer.authorize(request("execute w", session=session)).allowed
    assert authorizer.authorize(request("deallocate q", session=session)).allowed
    assert not authorizer.authorize(request("execute q(1)", session=session)).allowed
    other = Session(Identity("bob", kind="agent"))
    authorizer.authorize(request("prepare q as select 1", session=session))
    assert not authorizer.authorize(request("execute q", session=other)).allowed  # per session


@pytest.mark.parametrize(
    ("sql", "mode", "kind", "allowed"),
    [
        ("select id from customers where ssn like '12%'", None, "human", False),
        ("select id from customers where ssn = $1", None, "human", True),
        ("select id from customers where ssn = $1", None, "agent", False),
        ("select id from customers where ssn = $1", "allow", "agent", True),
        ("select id from customers where ssn like '1%'", "allow", "human", True),
        ("select id from customers where ssn = $1", "deny", "human", False),
        ("select id from customers order by email", "equality", "human", False),
        ("select id from customers where id > 3 order by id", "deny", "agent", True),  # id: not sensitive
        ("select id from customers where note like '%x%'", "deny", "agent", True),  # tagged none below
        ("select count(*) filter (where ssn like '1%') from customers", "equality", "human", False),
    ],
)
def test_inference_guard(sql: str, mode: str | None, kind: str, allowed: bool) -> None:
    policy = policies(mode)
    authorizer = Authorizer(policy, catalog=CATALOG, column_tags={"public.customers.note": "none"})
    decision = authorizer.authorize(request(sql, kind=kind))
    assert decision.allowed is allowed
    if not allowed:
        assert INFERENCE_RULE in decision.rule_ids
        assert "masked column public.customers." in decision.reasons[-1]


def test_inference_guard_off_when_nothing_is_masked() -> None:
    policy = policies(mask="{default: none}")
    decision = Authorizer(policy, catalog=CATALOG).authorize(
        request("select 1 from customers where ssn like '1%'")
    )
    assert decision.allowed


def test_columns_read_from_lineage_and_predicates() -> None:
    req = request("select upper(email) from customers where ssn = $1")
    Authorizer(policies("allow"), catalog=CATALOG).authorize(req)
    assert req.statement is not None
    assert req.statement.columns_read == {"public.customers.email", "public.customers.ssn"}


def test_several_statements_are_evaluated_together_and_merged() -> None:
    policy = policies()
    req = request("select 1; delete from customers")
    decision = Authorizer(policy, catalog=CATALOG).authorize(req)
    assert not decision.allowed
    assert any("DELETE writes data" in r for r in decision.reasons)
    assert req.statement is not None
    assert req.statement.kind == StatementKind.WRITE
    assert req.statement.normalized == "select $1; delete from customers"


def test_merge_keeps_the_most_dangerous_kind() -> None:
    merged = merge(analyze("select 1; begin; grant select on t to x"))
    assert merged.kind == StatementKind.DCL
    assert merged.command == "SELECT;BEGIN;GRANT"


def test_load_catalog_from_a_real_database(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("create schema crm")
        conn.execute("create table crm.people (id int, email text, dropped int, ssn text)")
        conn.execute("alter table crm.people drop column dropped")
        conn.execute("create view public.contacts as select id, upper(email) as mail from crm.people")

        def execute(sql: str) -> list[tuple[Any, ...]]:
            return conn.execute(sql).fetchall()

        catalog = load_catalog(execute)
    assert catalog.columns("crm.people") == ("id", "email", "ssn")
    assert catalog.columns("public.contacts") == ("id", "mail")
    assert catalog.columns("pg_catalog.pg_class") is not None
    [_, mail] = lineage("select * from contacts", catalog)
    assert mail.sources == {"crm.people.email"} and mail.transform == "case-change"


def test_too_complex_to_check_is_refused_when_masking_applies() -> None:
    deep = "select id from customers where " + "+".join(["id"] * 3000) + " = 1"
    decision = Authorizer(policies(), catalog=CATALOG).authorize(request(deep))
    assert not decision.allowed
    assert "nested too deeply" in decision.reasons[-1]


def test_lineage_for_picks_the_statement_that_produced_the_result() -> None:
    authorizer = Authorizer(policies("allow"), catalog=CATALOG)
    req = request("select 1 as n; select upper(email), md5(ssn) from customers")
    authorizer.authorize(req)
    shape = [ColumnInfo("upper", 25), ColumnInfo("md5", 25)]
    found = authorizer.lineage_for(req, shape)
    assert found is not None
    assert [(o.sources, o.transform) for o in found] == [
        (frozenset({"public.customers.email"}), "case-change"),
        (frozenset({"public.customers.ssn"}), "transformed"),
    ]
    assert authorizer.lineage_for(req, [ColumnInfo("n", 23)]) is not None
    three = [ColumnInfo("x", 23), ColumnInfo("y", 23), ColumnInfo("z", 23)]
    assert authorizer.lineage_for(req, three) is None
    call = request("/* FunctionCall */ SELECT function_oid_1()", protocol="function-call")
    assert authorizer.lineage_for(call, [ColumnInfo("x", 23)]) is None


def test_allowed_ddl_marks_the_catalog_stale() -> None:
    settings = parse_config("""
upstream: {postgres: "postgresql://u@127.0.0.1:5432/db"}
identity: {users: [{name: alice, password: x}]}
policies:
  - {name: admins, when: {identities: [alice]}, access: read-write}
""")
    authorizer = Authorizer(PolicySet.from_settings(settings), catalog=CATALOG)
    authorizer.authorize(request("select 1"))
    assert not authorizer.catalog_stale
    assert authorizer.authorize(request("create view v as select 1")).allowed
    assert authorizer.catalog_stale
    authorizer.set_catalog(CATALOG)
    assert not authorizer.catalog_stale


def test_table_rules_see_through_views() -> None:
    settings = parse_config("""
upstream: {postgres: "postgresql://u@127.0.0.1:5432/db"}
identity: {users: [{name: alice, password: x}]}
policies:
  - {name: readers, when: {identities: [alice]}, access: read-only, tables: {deny: [public.creds]}}
""")
    catalog = InMemoryCatalog(tables={"public.creds": ["token"], "public.v": ["token"]},
                              views={"public.v": "select token from creds"})
    req = request("select * from v")
    decision = Authorizer(PolicySet.from_settings(settings), catalog=catalog).authorize(req)
    assert not decision.allowed
    assert any("public.creds" in r for r in decision.reasons)
    assert req.statement is not None and req.statement.tables_read == {"public.v", "public.creds"}


def test_settings_that_escape_the_policy_are_refused() -> None:
    settings = parse_config("""
upstream: {postgres: "postgresql://u@127.0.0.1:5432/db"}
identity: {users: [{name: alice, password: x}]}
policies:
  - name: admins
    when: {identities: [alice]}
    access: read-write
    statement_timeout: 30s
    tables: {deny: [private.*]}
""")
    authorizer = Authorizer(PolicySet.from_settings(settings), catalog=CATALOG)
    for sql in ("set statement_timeout = 0", "set search_path = private"):
        decision = authorizer.authorize(request(sql))
        assert not decision.allowed and "settings-guard" in decision.rule_ids, sql
    assert authorizer.authorize(request("set statement_timeout = '5s'")).allowed
    assert authorizer.authorize(request("set application_name = 'x'")).allowed


def test_fetch_from_a_cursor_gets_the_cursors_lineage() -> None:
    authorizer = Authorizer(policies("allow"), catalog=CATALOG)
    session = Session(Identity("alice"))
    assert authorizer.authorize(request("declare c cursor for select substr(ssn, 1, 3) from customers",
                                        session=session)).allowed
    fetch = request("fetch all from c", session=session)
    assert authorizer.authorize(fetch).allowed
    [col] = authorizer.lineage_for(fetch, [ColumnInfo("substr", 25)]) or []
    assert (col.sources, col.transform) == ({"public.customers.ssn"}, "transformed")
    authorizer.forget_session(session)
    assert authorizer.lineage_for(fetch, [ColumnInfo("substr", 25)]) is None


def test_secrets_count_as_masked_even_under_default_none() -> None:
    authorizer = Authorizer(policies(mode="equality", mask="{default: none}"), catalog=CATALOG,
                            column_tags={"public.customers.note": "secret"})
    assert not authorizer.authorize(request("select id from customers where note like 'sk_%'")).allowed
    assert authorizer.authorize(request("select id from customers where ssn like '1%'")).allowed


def test_read_only_breach_from_parameter_status() -> None:
    started = {"default_transaction_read_only": "on"}
    assert read_only_breach(started, "default_transaction_read_only", "off")
    assert read_only_breach(started, "default_transaction_read_only", "on") is None
    assert read_only_breach(started, "application_name", "off") is None
    assert read_only_breach({}, "default_transaction_read_only", "off") is None  # a read-write session


def test_reads_share_their_analysis_by_shape_settings_never_do() -> None:
    authorizer = Authorizer(policies("allow"), catalog=CATALOG)
    first = authorizer.statements(request("select email from customers where id = 7"))
    again = authorizer.statements(request("select email from customers where id = 8"))
    assert again is first and first[0].columns_read == {"public.customers.email", "public.customers.id"}
    zero = authorizer.statements(request("set statement_timeout = 0"))
    five = authorizer.statements(request("set statement_timeout = 5000"))
    assert zero[0].settings != five[0].settings  # a literal decides these: never shared by shape
