"""NamedStatements: EXECUTE and FETCH mean what the session's PREPARE and DECLARE said."""

from __future__ import annotations

from veil.sql import analyze
from veil.sql.named import NamedStatements
from veil.values import StatementKind


def observe(named: NamedStatements, session: str, sql: str) -> None:
    named.observe(session, sql, analyze(sql))


def test_execute_resolves_per_session_and_deallocate_forgets() -> None:
    named = NamedStatements()
    observe(named, "s1", "PREPARE q AS SELECT email FROM customers")
    [info] = named.resolve("s1", "EXECUTE q", analyze("EXECUTE q"))
    assert (info.kind, info.command) == (StatementKind.READ, "EXECUTE")
    assert info.tables_read == {"public.customers"}
    [other] = named.resolve("s2", "EXECUTE q", analyze("EXECUTE q"))
    assert other.kind == StatementKind.UTILITY and other.reasons
    observe(named, "s1", "DEALLOCATE q")
    assert named.resolve("s1", "EXECUTE q", analyze("EXECUTE q"))[0].kind == StatementKind.UTILITY


def test_fetch_and_execute_take_their_source_sql() -> None:
    named = NamedStatements()
    observe(named, "s", "DECLARE c CURSOR FOR SELECT substr(ssn, 1, 3) FROM customers; PREPARE p AS SELECT 1")
    assert named.sources("s", "FETCH 10 FROM c; EXECUTE p; SELECT 2") == [
        "DECLARE c CURSOR FOR SELECT substr(ssn, 1, 3) FROM customers", "PREPARE p AS SELECT 1", "SELECT 2"]
    observe(named, "s", "CLOSE ALL")
    assert named.sources("s", "FETCH c") == ["FETCH c"]
    observe(named, "s", "DISCARD ALL")
    assert named.sources("s", "EXECUTE p") == ["EXECUTE p"]


def test_bounded() -> None:
    named = NamedStatements(max_sessions=2, max_names=2)
    for i in range(4):
        observe(named, "s", f"PREPARE p{i} AS SELECT {i}")
    assert named.sources("s", "EXECUTE p0") == ["EXECUTE p0"]  # evicted
    assert named.sources("s", "EXECUTE p3") == ["PREPARE p3 AS SELECT 3"]
    for session in ("a", "b", "c"):
        observe(named, session, "PREPARE x AS SELECT 1")
    assert named.sources("a", "EXECUTE x") == ["EXECUTE x"]  # oldest session evicted
