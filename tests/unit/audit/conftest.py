"""Shared audit test fixtures: a signing key and a small written trail in SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veil.audit.checkpoint import Signer
from veil.audit.record import origin_for
from veil.audit.sinks.sqlite import SqliteSink
from veil.audit.verify import VerifyResult, verify_log
from veil.audit.writer import AuditWriter


@dataclass
class Trail:
    path: Path
    signer: Signer
    origin: str = origin_for("node-a")

    def sink(self) -> SqliteSink:
        sink = SqliteSink(self.path, readonly=True)
        sink.open()
        return sink

    def verify(self, **kwargs: object) -> VerifyResult:
        sink = self.sink()
        try:
            return verify_log(self.origin, list(sink.events(self.origin)), sink.notes(self.origin),
                              [self.signer.verifier], **kwargs)  # type: ignore[arg-type]
        finally:
            sink.close()


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def write_trail(path: Path, signer: Signer, count: int, *, every: int = 10) -> None:
    writer = AuditWriter(SqliteSink(path), signer, node_id="node-a", checkpoint_every=every).start()
    for i in range(count):
        writer.record({"type": "request", "n": i, "identity": {"subject": f"user{i % 3}"}})
        if i % 7 == 6:
            writer.wait()  # several batches per checkpoint
        if i % every == every - 1:
            writer.flush()  # checkpoints at exactly every 10th event: tests cut the trail there
    writer.close()


@pytest.fixture
def trail(tmp_path: Path, signer: Signer) -> Iterator[Trail]:
    path = tmp_path / "audit.db"
    write_trail(path, signer, 40)
    yield Trail(path, signer)
