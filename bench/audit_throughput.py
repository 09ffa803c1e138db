"""Audit trail throughput (issue 8): events/s into each store with checkpoints every second.

    .venv/bin/python -m bench.audit_throughput                  # 20,000 events per store, 3 rounds
    .venv/bin/python -m bench.audit_throughput --events 5000 --rounds 1 --stores sqlite

One producer thread builds realistic request events with ``AuditService`` (identity,
normalized SQL, decision, masking provenance, keyed reason hash) and records them;
the writer's background thread batches them into the store, signing a checkpoint
every second and every 1,000 events.  Reported per store, best round:

* end-to-end events/s (first record to everything durable and checkpointed);
* producer cost per event (what ``record_request`` costs the front end's event loop);
* verification speed of the written trail (events/s through ``verify_log``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.support.services import find_nats, find_pg, temp_database

from bench import machine, write_section
from veil.audit.checkpoint import Signer
from veil.audit.record import origin_for
from veil.audit.sinks import Sink
from veil.audit.sinks.nats import NatsSink
from veil.audit.sinks.postgres import PostgresSink
from veil.audit.sinks.sqlite import SqliteSink
from veil.audit.verify import verify_log
from veil.audit.writer import AuditWriter
from veil.pipeline.audit import AuditService
from veil.pipeline.hooks import Request, Session
from veil.sql import analyze
from veil.values import Decision, Identity, MaskProvenance

SQL = "SELECT id, name, email, phone FROM public.customers WHERE region = 'EU' AND id > 1000 LIMIT 100"


def requests(n: int) -> Iterator[Request]:
    statement = analyze(SQL)[0]
    decision = Decision(True, "analysts", "read-only", mask=(("default", "pseudonymize"),),
                        rule_ids=("tables.allow", "access.read-only"), reasons=("read allowed",),
                        policy_hash="ab" * 32)
    sessions = [Session(Identity(f"user{i}", ("analysts",), "human" if i % 3 else "agent"),
                        client_addr=f"10.0.0.{i}:5{i:04d}", application_name="psql", database="app")
                for i in range(20)]
    for i in range(n):
        req = Request(sessions[i % 20], SQL, reason="TICKET-1234" if i % 10 == 0 else None)
        req.statement, req.decision = statement, decision
        req.outcome.rows, req.outcome.bytes = 100, 8200
        req.outcome.masking.extend([MaskProvenance("email", "email", "pseudonymize", "k1", 100, "values"),
                                    MaskProvenance("phone", "phone", "pseudonymize", "k1", 100, "name")])
        req.outcome.durations_ms.update(authorize=0.12, upstream=1.5, mask=0.4)
        yield req


def run(make_sink: Callable[[], Sink], n: int, signer: Signer) -> tuple[float, float, float, float]:
    """(end-to-end events/s, events per CPU-second of this process, producer us/event, verify events/s)."""
    node = f"bench-{uuid.uuid4().hex[:8]}"
    writer = AuditWriter(make_sink(), signer, node_id=node, checkpoint_interval=1.0,
                         checkpoint_every=1000, max_pending=n + 1).start()
    service = AuditService(writer, reason_key=b"k" * 32)
    batch = list(requests(n))
    started = time.perf_counter()
    cpu = time.process_time()
    produce = 0.0
    for req in batch:
        t = time.perf_counter()
        service.record_request(req)
        produce += time.perf_counter() - t
    writer.flush(timeout=600)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    writer.close()
    sink = make_sink()
    sink.open()
    t = time.perf_counter()
    origin = origin_for(node)
    result = verify_log(origin, list(sink.events(origin)), sink.notes(origin), [signer.verifier])
    verify_s = time.perf_counter() - t
    sink.close()
    if not result.ok or result.events != n:
        raise SystemExit(f"bench trail did not verify: {result.problem}")
    return n / elapsed, n / cpu, produce / n * 1e6, n / verify_s


@contextlib.contextmanager
def stores(names: list[str], tmp: Path) -> Iterator[dict[str, Callable[[], Sink]]]:
    out: dict[str, Callable[[], Sink]] = {}
    with contextlib.ExitStack() as stack:
        if "sqlite" in names:
            out["sqlite"] = lambda: SqliteSink(tmp / "audit.db")
        if "postgres" in names:
            pg = find_pg()
            if pg is not None:
                dsn = stack.enter_context(temp_database(pg, prefix="veil_bench_audit"))
                out["postgres"] = lambda: PostgresSink(dsn)
        if "nats" in names:
            nats = find_nats()
            if nats is not None:
                stream = f"VEIL_BENCH_{uuid.uuid4().hex[:8]}"
                out["nats"] = lambda: NatsSink(f"{nats.url}/{stream}")
        yield out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stores", default="sqlite,postgres,nats")
    args = parser.parse_args(argv)
    signer = Signer(Ed25519PrivateKey.generate())
    rows = []
    with tempfile.TemporaryDirectory() as tmp, stores(args.stores.split(","), Path(tmp)) as available:
        for name, make in available.items():
            best = max((run(make, args.events, signer) for _ in range(args.rounds)), key=lambda r: r[0])
            print(f"{name:9s} {best[0]:>8,.0f} events/s  {best[1]:>8,.0f} events/CPU-s  "
                  f"record {best[2]:6.1f} us/event  verify {best[3]:>8,.0f} events/s", flush=True)
            rows.append(f"| {name} | {best[0]:,.0f} | {best[1]:,.0f} | {best[2]:.1f} | {best[3]:,.0f} |")
    missing = sorted(set(args.stores.split(",")) - {r.split(" | ")[0][2:] for r in rows})
    text = "\n".join([
        f"Events/s into each store, one producer thread, {args.events:,} request events per round, best of "
        f"{args.rounds}; checkpoints signed every second and every 1,000 events; sqlite with "
        "`synchronous=FULL`. Target: >= 20,000 events/s into sqlite.",
        "",
        "| store | events/s (wall, durable + checkpointed) | events per CPU-second (veil process) "
        "| record() us/event (wall) | verify events/s |",
        "|---|---|---|---|---|",
        *rows,
        "",
        (f"Not measured (service unavailable): {', '.join(missing)}. " if missing else "")
        + "A 2-core VM shared with the store servers (load average below): wall figures are rough. "
        "Producer and writer thread share the GIL, so the process uses about one "
        "core; events per CPU-second is the per-core figure (the PostgreSQL/NATS servers' own CPU is not "
        "counted).",
        f"Machine: {machine()}.",
        f"Reproduce: `.venv/bin/python -m bench.audit_throughput --events {args.events} "
        f"--rounds {args.rounds}`.",
    ])
    write_section("Audit", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
