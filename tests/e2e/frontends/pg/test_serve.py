"""``veil serve`` as a process: bad configs exit 2, SIGHUP reloads, logs carry no secrets."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from tests.e2e.frontends.pg.conftest import eventually
from tests.support.proxy import basic_config, password_ref, running_veil


def _serve(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "veil", "serve", "-c", str(config_path)],
                          capture_output=True, text=True, timeout=60)


def test_help_has_an_example() -> None:
    done = subprocess.run([sys.executable, "-m", "veil", "serve", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "veil serve -c veil.yaml" in done.stdout


@pytest.mark.parametrize("text", [
    "listen: {postgres: 127.0.0.1:1}\n",  # no upstream
    "upstream: {postgres: 'postgresql://u@127.0.0.1:5432/db?sslmode=bogus'}\n",
    "upstream: {postgres: 'postgresql://u@127.0.0.1/db'}\n"
    "tls: {cert: 'file:/nonexistent.crt', key: 'file:/x'}\n",
    "upstream: {postgres: 'postgresql://u@127.0.0.1/db'}\nnot_a_key: 1\n",
])
def test_bad_configs_exit_2_with_a_message(tmp_path: Path, text: str) -> None:
    path = tmp_path / "veil.yaml"
    path.write_text(text)
    done = _serve(path)
    assert done.returncode == 2, done.stderr
    assert "config error" in done.stderr and "Traceback" not in done.stderr


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    done = _serve(tmp_path / "nope.yaml")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_sighup_reloads_and_keeps_the_old_config_on_error(pg_dsn: str, tmp_path: Path) -> None:
    config = basic_config(pg_dsn, [("first", "pw-first-123", ["g"], "human")])
    with running_veil(config, tmp_path=tmp_path, env={"SECOND_PW": "pw-second-456"}) as veil:
        with psycopg.connect(veil.dsn("first", "pw-first-123")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        written = yaml.safe_load(veil.config_path.read_text())
        written["identity"]["users"].append({"name": "second", "password": "env:SECOND_PW", "groups": ["g"],
                                             "kind": "human"})
        written["policies"][0]["when"]["identities"].append("second")
        veil.config_path.write_text(yaml.safe_dump(written))
        veil.proc.send_signal(signal.SIGHUP)
        eventually(lambda: "config reloaded" in veil.logs(), timeout=10)
        with psycopg.connect(veil.dsn("second", "pw-second-456")) as conn:
            assert conn.execute("SELECT 2").fetchone() == (2,)
        veil.config_path.write_text("listen: [this is not valid\n")
        veil.proc.send_signal(signal.SIGHUP)
        eventually(lambda: "reload failed" in veil.logs(), timeout=10)
        time.sleep(0.2)
        assert veil.alive()
        with psycopg.connect(veil.dsn("second", "pw-second-456")) as conn:
            assert conn.execute("SELECT 3").fetchone() == (3,)
        logs = veil.logs()
    assert "session start" in logs and "subject=second" in logs
    for secret in ("pw-first-123", "pw-second-456", password_ref("pw-first-123")):
        assert secret not in logs
    assert "SELECT 3" not in logs  # no SQL in the logs
