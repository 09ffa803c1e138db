"""veil's own login to the upstream: SCRAM-SHA-256, md5, cleartext, and TLS per sslmode.

The shared test server trusts every local connection, so these tests start a
private PostgreSQL cluster with password authentication and TLS (as the ``postgres``
system user when the tests run as root, since initdb refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from tests.e2e.frontends.pg.conftest import make_cert, run_veil
from tests.support.services import free_port, unavailable

PW = "upstream-pw"
HBA = """\
local all all trust
hostssl all tls_only 127.0.0.1/32 scram-sha-256
hostnossl all tls_only 127.0.0.1/32 reject
host all md5_user 127.0.0.1/32 md5
host all pw_user 127.0.0.1/32 password
host all all 127.0.0.1/32 scram-sha-256
"""


@dataclass(frozen=True)
class Cluster:
    port: int
    cert: Path

    def dsn(self, user: str, password: str = PW, **params: str) -> str:
        extra = " ".join(f"{k}={v}" for k, v in params.items())
        return f"host=127.0.0.1 port={self.port} dbname=postgres user={user} password={password} {extra}"


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        candidate = Path(bindir) / name
        if candidate.exists():
            return str(candidate)
    return None


def _run(cmd: list[str], user: str | None, *, check: bool = True) -> None:
    prefix = ["runuser", "-u", user, "--"] if user else []
    subprocess.run(prefix + cmd, check=check, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
            user = "postgres"
        except KeyError:
            user = None
    if not initdb or not pg_ctl or (os.geteuid() == 0 and (user is None or not shutil.which("runuser"))):
        unavailable("initdb/pg_ctl (and a non-root user to run them) for a private PostgreSQL cluster")
    assert initdb and pg_ctl
    base = Path(tempfile.mkdtemp(prefix="veil-upstream-"))
    data = base / "data"
    if user:
        os.chmod(base, 0o755)
        shutil.chown(base, user)
    _run([initdb, "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"], user)
    cert, key = make_cert(base)
    for path in (cert, key):
        shutil.copy(path, data / path.name)
        if user:
            shutil.chown(data / path.name, user)
        os.chmod(data / path.name, 0o600)
    port = free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n"
                   "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    (data / "pg_hba.conf").write_text(HBA)
    _run([pg_ctl, "-D", str(data), "-w", "-l", str(data / "log"), "start"], user)
    try:
        with psycopg.connect(f"host={data} port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("SET password_encryption = 'md5'")
            c.execute(f"CREATE ROLE md5_user LOGIN PASSWORD '{PW}'")
            c.execute("SET password_encryption = 'scram-sha-256'")
            for role in ("scram_user", "pw_user", "tls_only"):
                c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PW}'")
        yield Cluster(port, base / "server.crt")
    finally:
        _run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], user, check=False)
        shutil.rmtree(base, ignore_errors=True)


def _through_veil(upstream: str, tmp_path: Path) -> tuple[str, bool]:
    with run_veil(upstream, tmp_path) as veil, psycopg.connect(veil.dsn()) as conn:
        user, ssl = conn.execute(
            "SELECT current_user, coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)"
        ).fetchone()
        return str(user), bool(ssl)


@pytest.mark.parametrize("role", ["scram_user", "md5_user", "pw_user"])
def test_password_methods(cluster: Cluster, tmp_path: Path, role: str) -> None:
    assert _through_veil(cluster.dsn(role, sslmode="disable"), tmp_path) == (role, False)


def test_sslmode_prefer_uses_tls_when_offered(cluster: Cluster, tmp_path: Path) -> None:
    assert _through_veil(cluster.dsn("scram_user", sslmode="prefer"), tmp_path) == ("scram_user", True)


def test_sslmode_require_and_verify_full(cluster: Cluster, tmp_path: Path) -> None:
    assert _through_veil(cluster.dsn("tls_only", sslmode="require"), tmp_path) == ("tls_only", True)
    verified = cluster.dsn("tls_only", sslmode="verify-full", sslrootcert=str(cluster.cert))
    assert _through_veil(verified, tmp_path) == ("tls_only", True)


def test_verify_ca_with_the_wrong_ca_fails_closed(cluster: Cluster, tmp_path: Path) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other_cert, _ = make_cert(other_dir)
    upstream = cluster.dsn("tls_only", sslmode="verify-ca", sslrootcert=str(other_cert))
    with run_veil(upstream, tmp_path) as veil, \
            pytest.raises(psycopg.OperationalError, match="upstream database is unavailable"):
        psycopg.connect(veil.dsn())


def test_wrong_upstream_password_is_an_operator_error(cluster: Cluster, tmp_path: Path) -> None:
    with run_veil(cluster.dsn("scram_user", password="wrong", sslmode="disable"), tmp_path) as veil:
        with pytest.raises(psycopg.OperationalError, match="refused veil's login") as info:
            psycopg.connect(veil.dsn())
        assert "scram_user" not in str(info.value)


def test_tls_required_but_refused(cluster: Cluster, tmp_path: Path) -> None:
    with run_veil(cluster.dsn("tls_only", sslmode="disable"), tmp_path) as veil, \
            pytest.raises(psycopg.OperationalError, match="refused veil's login"):
        psycopg.connect(veil.dsn())
