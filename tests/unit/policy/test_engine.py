"""The policy engine as tables: first match, deny by default, reasons, tables, functions, limits."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.config import parse_config
from veil.errors import ConfigError
from veil.policy import PolicySet
from veil.sql import analyze
from veil.values import Decision, Identity, StatementInfo, StatementKind

CONFIG = """\
upstream: {postgres: "postgresql://u@h/db"}
policies:
  - name: blocked-net
    when: {cidrs: [192.0.2.0/24]}
    access: deny
  - name: ai-agents
    when: {kind: agent}
    access: read-only
    require_reason: true
    mask: {default: pseudonymize, credit_card: partial, secret: redact}
    tables: {allow: ["public.*"], deny: ["public.api_credentials"]}
    max_rows: 10000
    max_bytes: 50MB
    statement_timeout: 30s
    deny_functions: [pg_sleep]
  - name: analysts
    when: {groups: [analysts]}
    access: read-only
    require_limit: true
  - name: break-glass
    when: {groups: [dba], identities: [root-alice]}
    access: read-write
    require_reason: true
    mask: {default: none}
  - name: office-writers
    when: {cidrs: ["10.0.0.0/8", "::1/128"]}
    access: read-write
    tables: {deny: ["audit.*"]}
"""

AGENT = Identity("bot", kind="agent")
ANALYST = Identity("ann", groups=("analysts",))
ALICE = Identity("root-alice", groups=("dba",))
NOBODY = Identity("nobody")


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return PolicySet.from_settings(parse_config(CONFIG))


def decide(policies: PolicySet, who: Identity, sql: str, *, reason: str | None = "T-1",
           addr: str = "203.0.113.5") -> Decision:
    return policies.evaluate(who, analyze(sql), client_addr=addr, reason=reason)


@pytest.mark.parametrize(("who", "addr", "policy"), [
    (AGENT, "203.0.113.5", "ai-agents"),
    (AGENT, "192.0.2.7", "blocked-net"),          # first match wins
    (ANALYST, "203.0.113.5", "analysts"),
    (Identity("ann", groups=("analysts",), kind="agent"), "203.0.113.5", "ai-agents"),
    (Identity("root-bob", groups=("dba",)), "203.0.113.5", None),  # identities must also hold
    (ALICE, "203.0.113.5", "break-glass"),
    (NOBODY, "10.1.2.3", "office-writers"),
    (NOBODY, "::1", "office-writers"),
    (NOBODY, "local", "office-writers"),            # in-process callers count as loopback (::1/128)
    (NOBODY, "/tmp/.s.PGSQL.6432", "office-writers"),  # so do Unix sockets
    (NOBODY, "203.0.113.5", None),
])
def test_first_match(policies: PolicySet, who: Identity, addr: str, policy: str | None) -> None:
    matched = policies.match(who, client_addr=addr)
    assert (matched.name if matched else None) == policy


def test_no_match_is_deny(policies: PolicySet) -> None:
    d = decide(policies, NOBODY, "SELECT 1")
    assert not d.allowed and d.policy is None and d.rule_ids == ("default-deny",)
    assert d.policy_hash == policies.digest and len(d.policy_hash) == 64


def test_allowed_decision_carries_limits_and_mask(policies: PolicySet) -> None:
    d = decide(policies, AGENT, "SELECT name FROM customers")
    assert d.allowed and d.policy == "ai-agents" and d.access == "read-only"
    assert d.mask_map() == {"default": "pseudonymize", "credit_card": "partial", "secret": "redact"}
    assert (d.max_rows, d.max_bytes, d.statement_timeout_ms) == (10000, 50 * 1024**2, 30000)
    assert d.reasons and d.rule_ids


@pytest.mark.parametrize(("who", "sql", "reason", "rule", "words"), [
    (AGENT, "SELECT * FROM customers", None, "require-reason", "PGOPTIONS='-c veil.reason="),
    (AGENT, "SELECT * FROM customers", "  ", "require-reason", "SET veil.reason"),
    (AGENT, "SELECT now()", None, "require-reason", "reason"),  # no table, but a function: not exempt
    (AGENT, "INSERT INTO t VALUES (1)", None, "require-reason", "reason"),
    (AGENT, "SELECT * FROM api_credentials", "x", "tables", "public.api_credentials"),
    (AGENT, "SELECT * FROM billing.invoices", "x", "tables", "billing.invoices"),
    (AGENT, "SELECT * FROM pg_stats", "x", "tables", "pg_catalog.pg_stats"),
    (AGENT, "DELETE FROM customers", "x", "access", "DELETE"),
    (AGENT, "SELECT pg_sleep(5)", "x", "functions", "pg_sleep"),
    (AGENT, "SELECT pg_read_file('/etc/passwd')", "x", "functions", "pg_read_file"),
    (AGENT, "SELECT nextval('s')", "x", "functions", "nextval"),
    (AGENT, "SELECT 1; SELECT 2", "x", "multi-statement", "one statement"),
    (AGENT, "this is not sql", "x", "access", "parsed"),
    (AGENT, "SELECT set_config('search_path', 'evil', false)", "x", "access", "search_path"),
    (ANALYST, "SELECT * FROM customers", None, "require-limit", "LIMIT"),
    (ALICE, "UPDATE customers SET name = 'x'", None, "require-reason", "reason"),
    (NOBODY, "SELECT * FROM audit.events", None, "tables", "audit.events"),
])
def test_refusals(policies: PolicySet, who: Identity, sql: str, reason: str | None, rule: str,
                  words: str) -> None:
    d = policies.evaluate(who, analyze(sql), client_addr="10.9.9.9" if who is NOBODY else "203.0.113.5",
                          reason=reason)
    assert not d.allowed and rule in d.rule_ids and d.sqlstate == "42501", d
    assert any(words in r for r in d.reasons), d.reasons
    assert all(r.startswith(f'policy "{d.policy}" refuses: ') for r in d.reasons)


@pytest.mark.parametrize(("who", "sql", "addr"), [
    (AGENT, "SELECT c.name FROM public.customers c JOIN payments p ON p.customer_id = c.id", "203.0.113.5"),
    (AGENT, "SELECT typname FROM pg_catalog.pg_type", "203.0.113.5"),   # drivers need the catalogs
    (AGENT, "BEGIN", "203.0.113.5"),
    (ANALYST, "SELECT * FROM customers LIMIT 10", "203.0.113.5"),
    (ANALYST, "SELECT 1; SELECT 2", "203.0.113.5"),                       # humans may batch
    (ALICE, "UPDATE customers SET name = 'x'; SELECT pg_terminate_backend(1)", "203.0.113.5"),
    (NOBODY, "CREATE TABLE t (a int)", "10.0.0.1"),
    (NOBODY, "this is not sql", "10.0.0.1"),       # read-write, but tables restricted: see below
])
def test_allowed(policies: PolicySet, who: Identity, sql: str, addr: str) -> None:
    d = policies.evaluate(who, analyze(sql), client_addr=addr, reason="T-1")
    if sql == "this is not sql":
        assert not d.allowed  # unparseable SQL cannot be checked against table rules
        return
    assert d.allowed, d.reasons


@pytest.mark.parametrize("sql", ["BEGIN", "COMMIT", "SET statement_timeout = 1000", "SHOW search_path",
                                 "SELECT typname FROM pg_catalog.pg_type WHERE oid = 25",
                                 "SELECT 1"])
def test_driver_chatter_needs_no_reason(policies: PolicySet, sql: str) -> None:
    d = decide(policies, AGENT, sql, reason=None)
    assert "require-reason" not in d.rule_ids, d.reasons


def test_all_refusals_are_reported(policies: PolicySet) -> None:
    d = decide(policies, AGENT, "DELETE FROM api_credentials", reason=None)
    assert set(d.rule_ids) >= {"access", "require-reason", "tables"}


def test_unrestricted_read_write_runs_unparseable_sql() -> None:
    s = parse_config('upstream: {postgres: "postgresql://u@h/db"}\n'
                     'policies:\n  - {name: all, access: read-write}\n')
    d = PolicySet.from_settings(s).evaluate(NOBODY, analyze("FROBNICATE"), client_addr="h", reason=None)
    assert d.allowed and d.mask_map() == {"default": "pseudonymize"}  # no mask: given = mask what is found


def test_unknown_mask_key_names_its_line() -> None:
    text = CONFIG.replace("credit_card: partial", "credit_kard: partial")
    with pytest.raises(ConfigError) as info:
        PolicySet.from_settings(parse_config(text, "veil.yaml"))
    assert info.value.key == "policies[1].mask.credit_kard" and info.value.line == 10
    assert str(info.value).startswith("veil.yaml:10: policies[1].mask.credit_kard: ")


def test_unknown_column_tag() -> None:
    text = 'upstream: {postgres: "postgresql://u@h/db"}\ncolumns:\n  public.t.c: helth\n'
    with pytest.raises(ConfigError) as info:
        PolicySet.from_settings(parse_config(text, "veil.yaml"))
    assert info.value.line == 3 and "helth" in str(info.value)


def test_reload_swaps_policy_and_hash(policies: PolicySet) -> None:
    changed = PolicySet.from_settings(parse_config(CONFIG.replace("max_rows: 10000", "max_rows: 5")))
    assert changed.digest != policies.digest
    assert decide(changed, AGENT, "SELECT 1").max_rows == 5
    assert decide(policies, AGENT, "SELECT 1").max_rows == 10000


def test_merged_multi_statement_info_counts(policies: PolicySet) -> None:
    from dataclasses import replace

    merged = replace(analyze("SELECT 1")[0], statement_count=2)
    d = policies.evaluate(AGENT, [merged], client_addr="203.0.113.5", reason="x")
    assert not d.allowed and d.rule_ids == ("multi-statement",)


_NAMES = st.sampled_from(["public.customers", "customers", "public.api_credentials", "pg_catalog.pg_stats",
                          "pg_class", "Audit.Events", "x.y.z", ""])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(list(StatementKind)), min_size=1, max_size=3),
       tables=st.frozensets(_NAMES, max_size=3), functions=st.frozensets(st.text(max_size=12), max_size=3),
       who=st.sampled_from([AGENT, ANALYST, ALICE, NOBODY]), addr=st.sampled_from(["10.0.0.1", "::1", "",
                                                                                    "local", "not an ip"]),
       reason=st.none() | st.text(max_size=5))
def test_evaluate_never_raises(policies: PolicySet, kinds: list[StatementKind], tables: frozenset[str],
                               functions: frozenset[str], who: Identity, addr: str,
                               reason: str | None) -> None:
    infos = [StatementInfo(kind=k, tables_read=tables, functions=functions) for k in kinds]
    d = policies.evaluate(who, infos, client_addr=addr, reason=reason)
    assert d.policy_hash == policies.digest and d.reasons and d.rule_ids
    if d.policy is None:
        assert not d.allowed
    else:
        assert d.allowed == (not any("refuses" in r for r in d.reasons))
    if d.allowed:
        assert StatementKind.UNKNOWN not in kinds or d.access == "read-write"
        assert d.access != "deny"
