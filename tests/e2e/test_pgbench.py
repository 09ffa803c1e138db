"""A short pgbench run through veil: many concurrent sessions, no errors.

pgbench is the benchmark tool's view of compatibility: its init path (COPY, DDL,
VACUUM), and select-only runs in the simple, extended and prepared query modes
with several clients at once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.proxy import basic_config, running_veil
from tests.support.services import unavailable

pytestmark = pytest.mark.timeout(90)


def pgbench(dsn: str, *args: str, password: str | None = None) -> str:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if password is not None:
        env["PGPASSWORD"] = password
    done = subprocess.run(["pgbench", *args, dsn], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_pgbench_select_only_through_veil(pg_dsn: str, tmp_path: Path) -> None:
    if shutil.which("pgbench") is None:
        unavailable("pgbench binary")
    pgbench(pg_dsn, "-i", "-s", "1", "-q")
    cfg = basic_config(pg_dsn, [("bench", "bench-pw", ["bench"], "human")])
    with running_veil(cfg, tmp_path=tmp_path) as veil:
        dsn = veil.dsn("bench", "bench-pw")
        for mode, seconds in (("simple", "3"), ("extended", "1"), ("prepared", "1")):
            out = pgbench(dsn, "-S", "-n", "-T", seconds, "-c", "4", "-j", "2", "-M", mode)
            processed = re.search(r"number of transactions actually processed: (\d+)", out)
            failed = re.search(r"number of failed transactions: (\d+)", out)
            assert processed and int(processed.group(1)) > 50, out
            assert failed is None or failed.group(1) == "0", out
        assert veil.alive(), veil.logs()
