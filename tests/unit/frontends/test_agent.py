"""AgentService: the order of the one path, caps, refusals and masking, against real PostgreSQL."""

from __future__ import annotations

import pytest
from tests.e2e.agents.toy_pipeline import ToyPipeline, pseudonym

from veil.frontends.mcp.agent import AgentService, Refused, json_value
from veil.upstream.pool import QueryFailed, UpstreamPool
from veil.values import ColumnInfo, Identity

AGENT = Identity("robot", kind="agent")
HUMAN = Identity("alice", kind="human")


@pytest.fixture
async def service(seeded_dsn: str):  # type: ignore[no-untyped-def]
    pool = UpstreamPool(seeded_dsn, max_size=2)
    service = AgentService(ToyPipeline(), pool)
    yield service
    await pool.close()


def toy(service: AgentService) -> ToyPipeline:
    assert isinstance(service.pipeline, ToyPipeline)
    return service.pipeline


async def test_query_masks_every_row_and_finishes_once(service: AgentService) -> None:
    session = service.open_session(AGENT, "mcp")
    answer = await service.query(session, "SELECT id, email FROM customers ORDER BY id", reason="t-1")
    assert answer.rows == [[1, pseudonym(b"ann@example.org").decode()],
                           [2, pseudonym(b"bob@example.net").decode()], [3, None]]
    assert answer.masking == [{"column": "email", "type": "email", "method": "pseudonymize",
                               "key_id": "toy", "count": 2, "source": "name"}]
    [request] = toy(service).finished
    assert request.outcome.status == "ok" and request.outcome.rows == 3
    assert request.tool == "query" and request.reason == "t-1" and request.protocol == "mcp"
    assert set(request.outcome.durations_ms) == {"authorize", "upstream", "mask"}
    assert request.outcome.masking == []  # provenance lives on the planned masker, as on the wire
    assert [p.count for m in request.maskers for p in m.provenance()] == [2]


async def test_pseudonyms_are_joinable_across_tables(service: AgentService) -> None:
    session = service.open_session(AGENT, "mcp")
    customers = await service.query(session, "SELECT email FROM customers WHERE id = 2")
    orders = await service.query(session, "SELECT DISTINCT email FROM orders WHERE customer_id = 2")
    assert customers.rows == orders.rows


async def test_refused_write_never_reaches_the_database(service: AgentService, seeded_dsn: str) -> None:
    session = service.open_session(AGENT, "mcp")
    with pytest.raises(Refused) as exc:
        await service.query(session, "DELETE FROM customers")
    assert str(exc.value) == ("veil: refused by policy toy-agents: DELETE is not a read and the policy is "
                              "read-only")
    assert exc.value.sqlstate == "42501"
    [request] = toy(service).finished
    assert request.outcome.status == "refused" and request.outcome.sqlstate == "42501"
    count = await service.query(session, "SELECT count(*) FROM customers")
    assert count.rows == [[3]]


async def test_read_only_is_enforced_by_the_server_too(service: AgentService) -> None:
    """A write the parser calls a read (a volatile function) still fails in the read-only transaction."""
    session = service.open_session(AGENT, "mcp")
    await service.query(session, "SELECT 1")  # warm: the pool's connection exists
    with pytest.raises(QueryFailed) as exc:
        await service.query(session, "SELECT nextval('customers_seq_does_not_matter'::regclass)")
    assert exc.value.sqlstate in ("42P01", "25006")
    human = service.open_session(HUMAN, "http")
    await service.query(human, "CREATE SEQUENCE s")
    with pytest.raises(QueryFailed) as ro:
        await service.query(session, "SELECT nextval('s')")
    assert ro.value.sqlstate == "25006"
    assert toy(service).finished[-1].outcome.status == "error"
    assert toy(service).finished[-1].outcome.sqlstate == "25006"


async def test_reason_from_leading_comment_and_requirement(service: AgentService) -> None:
    toy(service).require_reason = True
    session = service.open_session(AGENT, "mcp")
    with pytest.raises(Refused, match="a reason is required"):
        await service.query(session, "SELECT 1")
    answer = await service.query(session, "/* veil.reason: INC-7 */ SELECT 1 AS one")
    assert answer.rows == [[1]]
    assert toy(service).finished[-1].reason == "INC-7"
    assert toy(service).finished[-1].sql == "SELECT 1 AS one"


@pytest.mark.parametrize(("decision_cap", "asked", "expected"), [(None, 5, 5), (7, None, 7), (4, 9, 4)])
async def test_row_caps(service: AgentService, decision_cap: int | None, asked: int | None,
                        expected: int) -> None:
    toy(service).max_rows = decision_cap
    session = service.open_session(AGENT, "mcp")
    answer = await service.query(session, "SELECT id FROM orders ORDER BY id", max_rows=asked)
    assert [r[0] for r in answer.rows] == list(range(1, expected + 1))
    assert answer.truncated
    after = await service.query(session, "SELECT count(*) FROM orders")  # the pooled connection is fine
    assert after.rows == [[50]]


async def test_parameters_and_upstream_errors(service: AgentService) -> None:
    session = service.open_session(HUMAN, "http")
    answer = await service.query(session, "SELECT name FROM customers WHERE id = $1 OR name = $2",
                                 params=[1, "Cy Noe"])
    assert sorted(r[0] for r in answer.rows) == ["Ann Lee", "Cy Noe"]
    with pytest.raises(QueryFailed) as exc:
        await service.query(session, "SELECT * FROM no_such_table")
    assert exc.value.sqlstate == "42P01"
    assert toy(service).finished[-1].outcome.status == "error"


async def test_upstream_error_texts_are_masked_like_on_the_wire(service: AgentService) -> None:
    session = service.open_session(HUMAN, "http")
    await service.query(session, "CREATE UNIQUE INDEX customers_email ON customers (email)")
    with pytest.raises(QueryFailed) as exc:
        await service.query(session, "INSERT INTO customers (id, email) VALUES (7, 'ann@example.org')")
    assert exc.value.sqlstate == "23505"
    assert exc.value.detail == f"Key (email)=({pseudonym(b'ann@example.org').decode()}) already exists."
    assert "ann@example.org" not in str(exc.value.fields)


async def test_explain_does_not_execute(service: AgentService) -> None:
    session = service.open_session(AGENT, "mcp")
    out = service.explain(session, "DELETE FROM customers")
    assert out["allowed"] is False and out["policy"] == "toy-agents"
    assert out["message"].startswith("veil: refused by policy toy-agents")
    assert out["statement"]["kind"] == "write"
    allowed = service.explain(session, "SELECT email FROM customers", reason="r")
    assert allowed["allowed"] is True and allowed["masking"] == {"email": "pseudonymize"}
    assert [r.outcome.status for r in toy(service).finished] == ["refused", "ok"]
    count = await service.query(session, "SELECT count(*) FROM customers")
    assert count.rows == [[3]]


async def test_a_session_reason_covers_calls_without_their_own(service: AgentService) -> None:
    toy(service).require_reason = True
    session = service.open_session(AGENT, "mcp", reason="  TICKET-5 ")
    await service.query(session, "SELECT 1")
    await service.query(session, "SELECT 2", reason="OWN-1")
    assert [r.effective_reason for r in toy(service).finished] == ["TICKET-5", "OWN-1"]


async def test_sessions_open_and_close_through_the_pipeline(service: AgentService) -> None:
    session = service.open_session(AGENT, "http", client_addr="127.0.0.1")
    service.close_session(session)
    assert [(e, s.frontend) for e, s in toy(service).sessions] == [("open", "http"), ("close", "http")]


def test_json_values_follow_the_column_type() -> None:
    def col(oid: int) -> ColumnInfo:
        return ColumnInfo("c", oid)

    assert json_value(col(23), b"42") == 42
    assert json_value(col(701), b"1.5") == 1.5
    assert json_value(col(701), b"NaN") == "NaN"
    assert json_value(col(16), b"t") is True
    assert json_value(col(1700), b"1.50") == "1.50"
    assert json_value(col(25), None) is None
    assert json_value(col(23), b"***") == "***"  # a redacted integer stays readable


async def test_default_cap_applies_only_when_the_caller_does_not_ask(service: AgentService) -> None:
    service.default_max_rows = 3
    session = service.open_session(AGENT, "mcp")
    assert len((await service.query(session, "SELECT id FROM orders")).rows) == 3
    assert len((await service.query(session, "SELECT id FROM orders", max_rows=40)).rows) == 40
