"""An in-process veil PostgreSQL front end for focused relay tests.

The server runs on its own event loop in a background thread, so tests can use
blocking clients (psycopg, psql) as well as asyncpg.  ``RecordingPipeline`` is a
real Pipeline implementation that allows everything except statements containing
``REFUSE_MARKER``, can uppercase text columns (a RowMasker), and records every hook
call so tests can check the guarantees (authorize/finish exactly once, outcomes).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict
from tests.support.certs import self_signed
from tests.support.proxy import url_dsn

from veil.app import build_server
from veil.config import parse_config
from veil.frontends.pg.server import PgFrontend
from veil.pipeline.hooks import Request, Session
from veil.values import ColumnInfo, Decision, MaskProvenance

REFUSE_MARKER = "veil_refuse_me"
USER, PASSWORD = "alice", "alice-secret-pw"
TEXT_OIDS = {25, 1043}


class UpperMasker:
    """Uppercases text columns; raises on a value containing ``boom``."""

    def __init__(self, columns: Sequence[ColumnInfo]) -> None:
        self.text = [c.type_oid in TEXT_OIDS for c in columns]
        self.count = 0

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for is_text, value in zip(self.text, values, strict=True):
            if value is not None and b"boom" in value:
                raise ValueError("cannot mask")
            out.append(value.upper() if is_text and value is not None else value)
        self.count += 1
        return out

    def provenance(self) -> list[MaskProvenance]:
        return [MaskProvenance(column="*", type=None, method="upper", key_id=None, count=self.count)]


@dataclass
class RecordingPipeline:
    mask: bool = False
    confirm_timeout: float = 10.0  # Pipeline protocol: results never wait here (finish returns None)
    sessions: list[Session] = field(default_factory=list)
    closed: list[Session] = field(default_factory=list)
    authorized: list[Request] = field(default_factory=list)
    finished: list[Request] = field(default_factory=list)
    plans: list[list[ColumnInfo]] = field(default_factory=list)
    reasons: dict[str, str | None] = field(default_factory=dict)  # sql -> effective reason at authorize

    def open_session(self, session: Session) -> None:
        self.sessions.append(session)

    def auth_failed(self, session: Session, why: str) -> None:
        return None

    def upstream_parameters(self, session: Session) -> dict[str, str]:
        return {"application_name": "veil-test"}

    def authorize(self, request: Request) -> Decision:
        self.authorized.append(request)
        self.reasons[request.sql] = request.effective_reason
        if REFUSE_MARKER in request.sql:
            return Decision(allowed=False, policy="test-policy",
                            reasons=("the statement carries the marker",))
        return Decision(allowed=True, policy="test-policy", access="read-write")

    def plan_mask(self, request: Request, columns: Sequence[ColumnInfo]) -> UpperMasker | None:
        self.plans.append(list(columns))
        return UpperMasker(columns) if self.mask else None

    def mask_fields(self, session: Session, fields: Mapping[str, str]) -> dict[str, str]:
        return {k: v.replace("secret-detail", "[masked]") for k, v in fields.items()}

    def plan_copy(self, request: Request, fmt: int) -> None:
        return None  # COPY masking is the real pipeline's (tests/e2e/test_masking_leaks.py)

    def mask_notification(self, session: Session, channel: str, payload: str) -> str:
        return payload.replace("secret", "[masked]")

    def finish(self, request: Request) -> None:
        self.finished.append(request)

    def close_session(self, session: Session) -> None:
        self.closed.append(session)


@dataclass
class Veil:
    """A running in-process front end."""

    server: PgFrontend
    loop: asyncio.AbstractEventLoop
    port: int
    pipeline: RecordingPipeline
    dbname: str

    def dsn(self, user: str = USER, password: str = PASSWORD, **params: Any) -> str:
        base = f"host=127.0.0.1 port={self.port} dbname={self.dbname} user={user} password={password}"
        return " ".join([base, *(f"{k}={v}" for k, v in params.items())])

    def url(self, user: str = USER, password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{self.dbname}"

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


make_cert = self_signed  # the shared helper (tests/support/certs.py)


@contextlib.contextmanager
def run_veil(upstream_dsn: str, tmp_path: Path, *, mask: bool = False, tls: bool = False,
             extra: dict[str, Any] | None = None) -> Iterator[Veil]:
    """veil's front end on a free port in a background thread, for the block's duration."""
    config: dict[str, Any] = {
        "listen": {"postgres": "127.0.0.1:0"},
        "upstream": {"postgres": url_dsn(upstream_dsn)},
        "identity": {"users": [{"name": USER, "password": PASSWORD, "groups": ["g"], "kind": "human"}]},
    }
    if tls:
        cert, key = make_cert(tmp_path)
        config["tls"] = {"cert": f"file:{cert}", "key": f"file:{key}"}
    config.update(extra or {})
    settings = parse_config(yaml.safe_dump(config), source=str(tmp_path / "veil.yaml"))
    pipeline = RecordingPipeline(mask=mask)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = build_server(settings, pipeline)
    _, port = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), loop).result(10)
    dbname = str(conninfo_to_dict(upstream_dsn)["dbname"])
    try:
        yield Veil(server, loop, port, pipeline, dbname)
    finally:
        asyncio.run_coroutine_threadsafe(server.shutdown(1.0), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def veil(pg_dsn: str, tmp_path: Path) -> Iterator[Veil]:
    with run_veil(pg_dsn, tmp_path) as running:
        yield running


@pytest.fixture
def masking_veil(pg_dsn: str, tmp_path: Path) -> Iterator[Veil]:
    with run_veil(pg_dsn, tmp_path, mask=True) as running:
        yield running


def eventually(check: Any, timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true: server-side bookkeeping trails the client by a moment."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)
