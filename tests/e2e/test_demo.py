"""``veil demo`` end to end, the way a new user meets it.

Start it on free ports with a fresh data directory, wait for the printed psql
lines, connect as ``analyst`` with exactly the printed URL, read customers (masked:
not the seeded values), then Ctrl-C (SIGINT): the demo must exit 0 and leave no
PostgreSQL running.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from tests.support.services import free_port
from veil.cli.demo_data import DemoData

pytestmark = pytest.mark.timeout(90)

STARTUP_BUDGET = 60.0  # pgserver initdb + data load + proxy; measured ~10 s on the shared 2-core VM


def read_lines(stream: object, out: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        out.put(line)
    out.put("")


def postgres_running(pgdata: Path) -> bool:
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and any(str(pgdata) in part for part in cmdline):
            return True
    return False


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data dir outside pytest's tmp root.

    As root, pgserver runs PostgreSQL as user ``pgserver`` and opens the path's parents
    to it; any concurrently starting pytest closes ``/tmp/pytest-of-root`` again (0700),
    so the data dir lives in its own ``/tmp`` directory instead.
    """
    path = Path(tempfile.mkdtemp(prefix="veil-demo-test-"))
    yield path / "demo"
    shutil.rmtree(path, ignore_errors=True)


class Demo:
    """``veil demo`` in a subprocess; ``ready()`` collects its output up to "Press Ctrl-C"."""

    def __init__(self, data_dir: Path, cwd: Path, no_tour: bool = False) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        args = [sys.executable, "-m", "veil", "demo", "--port", str(self.port),
                "--http-port", str(free_port()), "--data-dir", str(data_dir)]
        args += ["--no-tour"] if no_tour else []
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=read_lines, args=(self.proc.stdout, self.lines), daemon=True).start()
        self.output: list[str] = []

    def ready(self) -> str:
        while not any("Press Ctrl-C" in line for line in self.output):
            remaining = STARTUP_BUDGET - (time.monotonic() - self.started)
            assert remaining > 0, "demo not ready in time:\n" + "".join(self.output)
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line, "demo exited early:\n" + "".join(self.output)
            self.output.append(line)
        return "".join(self.output)

    def interrupt(self) -> int:
        """Ctrl-C; the exit code (the process is killed if it does not stop within 20 s)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


ANALYST_URL = re.compile(r"postgresql://analyst:[A-Za-z0-9_\-]+@[0-9.]+:\d+/\w+")


def test_demo_starts_serves_analyst_and_stops_on_sigint(data_dir: Path, tmp_path: Path) -> None:
    demo = Demo(data_dir, tmp_path)
    try:
        text = demo.ready()
        ready_after = time.monotonic() - demo.started
        found = ANALYST_URL.search(text)
        assert found, text
        assert re.search(r"PGOPTIONS=.*veil\.reason=.*postgresql://admin:", text), text
        assert "postgresql://agent:" in text
        assert '"mcpServers"' in text and '"VEIL_TOKEN": "agent:' in text  # the MCP client snippet

        with psycopg.connect(found.group(0), connect_timeout=10) as conn:
            rows = conn.execute("SELECT id, full_name, email FROM customers ORDER BY id LIMIT 5").fetchall()
            count = conn.execute("SELECT count(*) FROM customers").fetchone()
        assert len(rows) == 5 and all(r[1] and "@" in r[2] for r in rows)
        assert count == (1000,)
        # analyst's policy pseudonymizes: the seeded first customer is not shown as stored
        _, raw_name, raw_email, *_ = next(DemoData().customers_rows())
        assert rows[0][0] == 1 and rows[0][1] != raw_name and rows[0][2] != raw_email
        print(f"demo ready after {ready_after:.1f}s")  # the startup figure, shown with -s
    finally:
        code = demo.interrupt()
    assert code == 0, "".join(demo.output)
    assert not postgres_running(data_dir / "pg"), "the embedded PostgreSQL outlived the demo"

    again = Demo(data_dir, tmp_path, no_tour=True)  # a rerun reuses data, keys and passwords
    try:
        text = again.ready()
        assert "sample data loaded" not in text
        rerun = ANALYST_URL.search(text)
        assert rerun and rerun.group(0).split("@")[0] == found.group(0).split("@")[0]
    finally:
        assert again.interrupt() == 0, "".join(again.output)
