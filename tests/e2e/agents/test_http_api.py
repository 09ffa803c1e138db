"""The HTTP JSON API in-process with httpx: credentials, queries, refusals, health and metrics."""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.e2e.agents.toy_pipeline import ToyPipeline, pseudonym

from veil.config import Settings
from veil.frontends.http import create_app
from veil.frontends.mcp.agent import AgentService
from veil.identity import IdentityProvider, dev_issuer_jwks
from veil.pipeline.hooks import Confirmation, Request
from veil.upstream.pool import UpstreamPool


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def api(seeded_dsn: str, provider: IdentityProvider, identity_settings: Settings
              ) -> AsyncIterator[tuple[httpx.AsyncClient, AgentService]]:
    pool = UpstreamPool(seeded_dsn, max_size=2)
    agent = AgentService(ToyPipeline(), pool)
    app = create_app(agent, provider, jwks=lambda: dev_issuer_jwks(identity_settings), mcp=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, agent
    await pool.close()


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not.a.jwt"},
    {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJjbGF1ZGUifQ."},
    basic("robot", "wrong"), basic("nobody", "s3cret-robot"), {"Authorization": "Digest abc"},
])
async def test_missing_or_bad_credentials_get_401(api: tuple[httpx.AsyncClient, AgentService],
                                                   headers: dict[str, str]) -> None:
    client, agent = api
    for method, path in (("POST", "/v1/query"), ("GET", "/metrics")):
        r = await client.request(method, path, headers=headers, json={"sql": "SELECT 1"})
        assert r.status_code == 401
        assert "Bearer" in r.headers["www-authenticate"]
        assert r.json()["error"]["message"] in ("missing credentials", "invalid credentials",
                                                "unsupported authorization scheme")
    assert not ToyPipelineOf(agent).finished  # nothing reached the pipeline


def ToyPipelineOf(agent: AgentService) -> ToyPipeline:
    assert isinstance(agent.pipeline, ToyPipeline)
    return agent.pipeline


async def test_query_with_a_token_is_masked(api: tuple[httpx.AsyncClient, AgentService], agent_token: str
                                            ) -> None:
    client, agent = api
    r = await client.post("/v1/query", headers={"Authorization": f"Bearer {agent_token}"}, json={
        "sql": "SELECT id, email FROM customers WHERE id <= $1 ORDER BY id", "params": [2],
        "reason": "TICKET-1", "max_rows": 10})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == [{"name": "id", "type": "int4", "type_oid": 23},
                               {"name": "email", "type": "text", "type_oid": 25}]
    assert body["rows"] == [[1, pseudonym(b"ann@example.org").decode()],
                            [2, pseudonym(b"bob@example.net").decode()]]
    assert body["masking"][0]["type"] == "email" and body["masking"][0]["count"] == 2
    [request] = ToyPipelineOf(agent).finished
    identity = request.session.identity
    assert (identity.subject, identity.kind, identity.actor) == ("claude", "agent", ("claude-desktop",))
    assert request.session.frontend == "http" and request.tool == "/v1/query"
    assert request.reason == "TICKET-1"


async def test_refusal_is_403_with_the_psql_message(api: tuple[httpx.AsyncClient, AgentService]) -> None:
    client, agent = api
    r = await client.post("/v1/query", headers=basic("robot", "s3cret-robot"),
                          json={"sql": "UPDATE customers SET email = NULL"})
    assert r.status_code == 403
    assert r.json()["error"] == {"message": "veil: refused by policy toy-agents: UPDATE is not a read and "
                                 "the policy is read-only", "sqlstate": "42501", "policy": "toy-agents"}
    assert ToyPipelineOf(agent).finished[0].outcome.status == "refused"


@pytest.mark.parametrize(("body", "fragment"), [
    ({"sql": ""}, "sql must be"), ({"sql": "SELECT 1", "params": [{"a": 1}]}, "params must be"),
    ({"sql": "SELECT 1", "max_rows": -1}, "max_rows"), ({"sql": "SELECT 1", "reason": 5}, "reason"),
])
async def test_bad_bodies_get_400(api: tuple[httpx.AsyncClient, AgentService], body: dict[str, object],
                                  fragment: str) -> None:
    client, _ = api
    r = await client.post("/v1/query", headers=basic("alice", "s3cret-alice"), json=body)
    assert r.status_code == 400 and fragment in r.json()["error"]["message"]
    r = await client.post("/v1/query", headers=basic("alice", "s3cret-alice"), content=b"[1")
    assert r.status_code == 400


async def test_upstream_error_is_400_with_sqlstate(api: tuple[httpx.AsyncClient, AgentService]) -> None:
    client, _ = api
    r = await client.post("/v1/query", headers=basic("alice", "s3cret-alice"),
                          json={"sql": "SELECT * FROM missing_table"})
    assert r.status_code == 400 and r.json()["error"]["sqlstate"] == "42P01"


async def test_health_ready_and_jwks_are_open(api: tuple[httpx.AsyncClient, AgentService]) -> None:
    client, _ = api
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "checks": {"upstream": True}}
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys and keys[0]["kty"] == "OKP" and "d" not in keys[0]


async def test_readyz_fails_when_upstream_is_gone(provider: IdentityProvider) -> None:
    pool = UpstreamPool("host=127.0.0.1 port=1 user=nobody dbname=x", connect_timeout=1)
    app = create_app(AgentService(ToyPipeline(), pool), provider, mcp=False,
                     ready_checks={"audit": _true})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"] == {"upstream": False, "audit": True}


async def _true() -> bool:
    return True


async def test_failed_logins_reach_the_pipeline_and_metrics_are_served(
        api: tuple[httpx.AsyncClient, AgentService]) -> None:
    client, agent = api
    auth = basic("robot", "s3cret-robot")
    await client.post("/v1/query", headers=auth, json={"sql": "SELECT email FROM customers"})
    await client.post("/v1/query", headers=basic("robot", "nope"), json={"sql": "SELECT 1"})
    await client.get("/metrics", headers={"Authorization": "Bearer not.a.jwt"})
    failures = ToyPipelineOf(agent).auth_failures
    assert [(s.identity.subject, s.frontend, s.client_addr) for s, _ in failures] == [
        ("robot", "http", "127.0.0.1"), ("", "http", "127.0.0.1")]
    assert all(why == "invalid credentials" for _, why in failures)
    r = await client.get("/metrics", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    # With a pipeline that counts nothing itself, only the front end's own step shows.
    assert 'veil_latency_seconds_count{phase="upstream"} 1.0' in r.text


class ConfirmingPipeline(ToyPipeline):
    """audit.confirm as the real pipeline does it: ``finish`` hands back a future the writer completes."""

    def __init__(self, *, store_answers: bool) -> None:
        super().__init__(confirm_timeout=0.5)
        self.store_answers = store_answers

    def finish(self, request: Request) -> Confirmation | None:
        super().finish(request)
        future: Confirmation = Confirmation()
        if self.store_answers:  # stored a moment later, from another thread like the writer's
            threading.Timer(0.1, future.set_result, (None,)).start()
        return future  # else never confirmed: the answer must not go out


@pytest.mark.parametrize("store_answers", [True, False])
async def test_query_answer_waits_for_the_audit_confirmation(seeded_dsn: str, provider: IdentityProvider,
                                                             store_answers: bool) -> None:
    pool = UpstreamPool(seeded_dsn, max_size=1)
    app = create_app(AgentService(ConfirmingPipeline(store_answers=store_answers), pool), provider, mcp=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post("/v1/query", headers=basic("robot", "s3cret-robot"),
                                  json={"sql": "SELECT id FROM customers ORDER BY id"})
    finally:
        await pool.close()
    if store_answers:
        assert r.status_code == 200 and r.json()["rows"][0] == [1]
    else:
        assert r.status_code == 400 and r.json()["error"]["sqlstate"] == "58000"
        assert "rows" not in r.json() and "withheld" in r.json()["error"]["message"]
