"""psql (libpq, the reference client) through veil prints what it prints directly.

psql exercises what hand-written tests forget: the catalog queries behind ``\\d``,
``\\copy`` (COPY over the client's own file), expanded output, and the startup
parameters libpq sends.  Output must be byte-identical to a direct session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.proxy import PassThroughSetup, pass_through_veil
from tests.support.services import PgServer, unavailable

pytestmark = pytest.mark.timeout(60)

SCHEMA = """
CREATE TABLE {t} (
    id integer PRIMARY KEY,
    email text NOT NULL,
    note text,
    created timestamptz DEFAULT now(),
    amount numeric(10,2) CHECK (amount >= 0)
);
CREATE INDEX ON {t} (email);
COMMENT ON TABLE {t} IS 'customers ✓';
INSERT INTO {t} (id, email, note, amount)
SELECT g, 'user' || g || '@example.com', CASE WHEN g % 5 = 0 THEN NULL ELSE E'line1\\nline2\\ttab ' || g END,
       g * 1.25
FROM generate_series(1, 150) g;
"""


@pytest.fixture(scope="module")
def setup(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PassThroughSetup]:
    if shutil.which("psql") is None:
        unavailable("psql binary")
    with pass_through_veil(pg_server, tmp_path_factory.mktemp("veil")) as s:
        yield s


@pytest.fixture
def table(setup: PassThroughSetup) -> str:
    name = f"people_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(setup.direct_dsn, autocommit=True) as conn:
        conn.execute(SCHEMA.format(t=name))
    return name


def psql(dsn: str, *commands: str, cwd: Path | None = None) -> str:
    """Run psql non-interactively (-X: no ~/.psqlrc); fail with its stderr on a non-zero exit."""
    args = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    for command in commands:
        args += ["-c", command]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10", "PAGER": "", "PSQL_PAGER": ""}
    done = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_describe(setup: PassThroughSetup, table: str) -> None:
    commands = (f"\\d {table}", f"\\d+ {table}", "\\dt+", "\\l " + setup.veil.upstream_dbname)
    direct = psql(setup.direct_dsn, *commands)
    assert psql(setup.veil_dsn(), *commands) == direct
    assert "email" in direct and "customers ✓" in direct and f"{table}_email_idx" in direct


def test_expanded_output(setup: PassThroughSetup, table: str) -> None:
    commands = ("\\x on", f"SELECT * FROM {table} WHERE id IN (1, 5, 10) ORDER BY id",
                "\\x off", f"SELECT count(*), sum(amount) FROM {table}")
    direct = psql(setup.direct_dsn, *commands)
    assert psql(setup.veil_dsn(), *commands) == direct
    assert "-[ RECORD 1 ]" in direct and "user5@example.com" in direct and "150 | 14156.25" in direct


def test_copy_out_and_in(setup: PassThroughSetup, table: str, tmp_path: Path) -> None:
    outputs = []
    for name, dsn in (("direct", setup.direct_dsn), ("veil", setup.veil_dsn())):
        target = f"{table}_{name}"
        psql(dsn, f"CREATE TABLE {target} (LIKE {table} INCLUDING ALL)", cwd=tmp_path)
        psql(dsn, f"\\copy {table} TO '{name}.csv' WITH (FORMAT csv, HEADER)",
             f"\\copy {target} FROM '{name}.csv' WITH (FORMAT csv, HEADER)",
             f"\\copy (SELECT * FROM {table} ORDER BY id DESC) TO '{name}.txt'", cwd=tmp_path)
        outputs.append(((tmp_path / f"{name}.csv").read_bytes(), (tmp_path / f"{name}.txt").read_bytes(),
                        psql(dsn, f"SELECT count(*), count(note) FROM {target}")))
    assert outputs[1] == outputs[0]
    csv, text, counts = outputs[0]
    assert csv.startswith(b"id,email,note,created,amount\n") and text.count(b"\n") == 150
    assert "150 |   120" in counts
