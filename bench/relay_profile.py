"""Relay profile: proxy CPU per simple query, latency through veil vs direct, and where the time goes.

``python -m bench.relay_profile [--seconds 5] [--clients 8] [--no-write]``

The PostgreSQL front end runs in this process (PassThroughPipeline, uvloop) on a
background thread; pgbench (``-S -M simple``) runs as a subprocess, so this
process's CPU during a run is the relay's own.  A last run under cProfile gives the
top-10 functions by own time (cProfile inflates Python-heavy code, so read it for
ranking, not absolute cost).  Writes ``## Relay profile`` in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import re
import resource
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import yaml
from tests.support.proxy import url_dsn
from tests.support.services import find_pg, temp_database

from bench import machine, write_section
from veil.app import build_server, new_event_loop
from veil.config import parse_config

USER, PASSWORD = "bench", "bench-password"


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pgbench(dsn: str, clients: int, seconds: int, password: str | None = None) -> tuple[float, float, int]:
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    done = subprocess.run(["pgbench", "-S", "-M", "simple", "-n", "-T", str(seconds), "-c", str(clients),
                           "-j", str(min(clients, 2)), dsn], capture_output=True, text=True, env=env,
                          timeout=seconds + 60)
    out = done.stdout + done.stderr
    tps = re.search(r"tps = ([\d.]+)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    if done.returncode != 0 or not (tps and latency and processed):
        raise RuntimeError(f"pgbench failed:\n{out}")
    return float(tps.group(1)), float(latency.group(1)), int(processed.group(1))


class _BareDown(asyncio.Protocol):
    """Baseline: a relay that forwards bytes both ways and understands nothing."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        down = self

        class Up(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                assert down.transport is not None
                down.transport.write(data)

            def connection_lost(self, exc: Exception | None) -> None:
                if down.transport is not None:
                    down.transport.close()

        self.peer, _ = await asyncio.get_running_loop().create_connection(Up, *self.upstream)
        for data in self.pending:
            self.peer.write(data)

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.pending.append(data)
        else:
            self.peer.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()


class ProfiledServer:
    """The front end on its own thread and loop; ``profiler`` (when set) runs on that thread."""

    def __init__(self, settings: object) -> None:
        self.loop = new_event_loop()
        self.profiler: cProfile.Profile | None = None
        self.server = build_server(settings)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        _, self.port = self.call(self.server.start("127.0.0.1", 0))  # type: ignore[misc]
        self.bare_port = 0

    def start_bare(self, upstream: tuple[str, int]) -> int:
        async def start() -> int:
            server = await self.loop.create_server(lambda: _BareDown(upstream), "127.0.0.1", 0)
            return int(server.sockets[0].getsockname()[1])

        self.bare_port = int(self.call(start()))  # type: ignore[call-overload]
        return self.bare_port

    def call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)  # type: ignore[arg-type]

    def set_profiling(self, on: bool) -> None:
        async def toggle() -> None:
            if on:
                self.profiler = cProfile.Profile()
                self.profiler.enable()
            elif self.profiler is not None:
                self.profiler.disable()

        self.call(toggle())

    def stop(self) -> None:
        self.call(self.server.shutdown(1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextmanager
def relay(upstream: str) -> Iterator[ProfiledServer]:
    config = {"listen": {"postgres": "127.0.0.1:0"}, "upstream": {"postgres": url_dsn(upstream)},
              "identity": {"users": [{"name": USER, "password": PASSWORD, "groups": ["b"], "kind": "human"}]}}
    server = ProfiledServer(parse_config(yaml.safe_dump(config)))
    try:
        yield server
    finally:
        server.stop()


def top_functions(profiler: cProfile.Profile, count: int = 10) -> list[tuple[str, float, int]]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:count]  # type: ignore[attr-defined]
    return [(f"{Path(f).name}:{line} {name}", tt / total * 100, calls) for (f, line, name), (_, calls, tt, *_)
            in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    pg = find_pg()
    if pg is None:
        raise SystemExit("no PostgreSQL: set VEIL_TEST_PG_DSN or run one on 127.0.0.1:5432")
    with temp_database(pg, prefix="veil_prof") as dsn, tempfile.TemporaryDirectory():
        subprocess.run(["pgbench", "-i", "-s", "1", "-q", dsn], check=True, capture_output=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        with relay(dsn) as server:
            params = psycopg.conninfo.conninfo_to_dict(dsn)
            via = f"host=127.0.0.1 port={server.port} user={USER} dbname={params['dbname']}"
            upstream = (str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))
            bare_port = server.start_bare(upstream)
            bare = f"host=127.0.0.1 port={bare_port} user={params['user']} dbname={params['dbname']}"
            results = {}
            targets = (("direct", dsn, None), ("bare relay", bare, None), ("veil", via, PASSWORD))
            for name, target, pw in targets:
                for clients in (1, args.clients):
                    before = process_cpu()
                    tps, latency, done = pgbench(target, clients, args.seconds, pw)
                    cpu_us = (process_cpu() - before) / done * 1e6 if name != "direct" else None
                    results[(name, clients)] = (tps, latency, cpu_us)
                    print(f"{name:10} c={clients:<3} tps={tps:9.0f} latency={latency:.3f} ms"
                          + (f" relay CPU/query={cpu_us:.1f} us" if cpu_us is not None else ""), flush=True)
            server.set_profiling(True)
            pgbench(via, args.clients, max(2, args.seconds // 2), PASSWORD)
            server.set_profiling(False)
            assert server.profiler is not None
            spots = top_functions(server.profiler)
    for name, share, calls in spots:
        print(f"{share:5.1f}%  {calls:>9}  {name}")
    if not args.no_write:
        write_section("Relay profile", report(results, spots, args))
    return 0


def report(results: dict[tuple[str, int], tuple[float, float, float | None]],
           spots: list[tuple[str, float, int]], args: argparse.Namespace) -> str:
    n = args.clients
    lines = [
        f"pgbench `-S -M simple` (scale 1), {args.seconds} s per run; veil's PostgreSQL front end in-process "
        "(PassThroughPipeline, uvloop), so the process CPU during a run is the relay's own (user + system: "
        "the loopback send syscalls dominate). `bare relay` is a 30-line asyncio Protocol relay that "
        "understands nothing, on the same loop: the floor any Python relay pays.",
        f"Measured on {machine()}; pgbench, PostgreSQL and the relay share 2 cores with other work: noisy.",
        "",
        "| target | clients | tps | latency ms | relay CPU per query |",
        "|---|---:|---:|---:|---:|",
    ]
    for (name, clients), (tps, latency, cpu) in results.items():
        lines.append(f"| {name} | {clients} | {tps:.0f} | {latency:.3f} | "
                     + (f"{cpu:.1f} us |" if cpu is not None else "- |"))
    d1, v1 = results[("direct", 1)][1], results[("veil", 1)][1]
    dn, vn = results[("direct", n)][0], results[("veil", n)][0]
    b1, bn = results[("bare relay", 1)][1], results[("bare relay", n)][0]
    lines += ["", f"Added latency at 1 client: veil {v1 - d1:+.3f} ms, bare relay {b1 - d1:+.3f} ms; "
              f"throughput at {n} clients: veil {vn / dn:.2f}x direct, bare relay {bn / dn:.2f}x direct.", "",
              f"cProfile top-10 by own time (relay thread, {n} clients):", "",
              "| function | own time | calls |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {share:.1f}% | {calls} |" for name, share, calls in spots]
    lines += ["", "Reproduce: `.venv/bin/python -m bench.relay_profile`."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
