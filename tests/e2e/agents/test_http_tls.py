"""The HTTP listener over TLS: veil's own server context, tokens accepted off loopback only with TLS."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.agents.toy_pipeline import ToyPipeline
from tests.support.certs import self_signed
from tests.support.services import free_port

from veil.config import ListenSettings, Settings, TLSSettings, UpstreamSettings
from veil.frontends.http import HttpListener, create_app, serve_http, start_http
from veil.frontends.mcp.agent import AgentService
from veil.frontends.pg.tls import ServerTLS
from veil.identity import IdentityProvider
from veil.upstream.pool import UpstreamPool


@pytest.fixture
async def tls_listener(tmp_path: Path, seeded_dsn: str, provider: IdentityProvider
                       ) -> AsyncIterator[tuple[HttpListener, Path, ToyPipeline]]:
    cert, key = self_signed(tmp_path)
    pool = UpstreamPool(seeded_dsn, max_size=1)
    pipeline = ToyPipeline()
    app = create_app(AgentService(pipeline, pool), provider, mcp=False)
    running = await serve_http(app, "127.0.0.1", 0, ssl_context=ServerTLS.load(cert, key).context)
    yield running, cert, pipeline
    await running.stop()
    await pool.close()


async def test_tls_listener_serves_the_api(tls_listener: tuple[HttpListener, Path, ToyPipeline],
                                           agent_token: str) -> None:
    running, cert, pipeline = tls_listener
    trust = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{running.port}", verify=trust) as http:
        r = await http.post("/v1/query", headers={"Authorization": f"Bearer {agent_token}"},
                            json={"sql": "SELECT count(*) FROM customers", "reason": "tls"})
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == [[3]]
    assert pipeline.finished[0].session.tls is True
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as plain:
        with pytest.raises(httpx.HTTPError):  # no plaintext fallback on a TLS listener
            await plain.get("/healthz")


async def test_start_http_serves_https_when_tls_is_configured(tmp_path: Path, seeded_dsn: str,
                                                              identity_settings: Settings) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    settings = dataclasses.replace(
        identity_settings, listen=ListenSettings(postgres=None, http=("127.0.0.1", port)),
        upstream=UpstreamSettings(postgres=seeded_dsn), tls=TLSSettings(cert=cert, key=key))
    running = await start_http(settings, ToyPipeline())
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=trust) as http:
            assert (await http.get(f"https://127.0.0.1:{port}/healthz")).json() == {"status": "ok"}
    finally:
        await running.stop()
