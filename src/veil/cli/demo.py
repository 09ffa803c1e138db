"""``veil demo``: a whole veil installation in one command, for a first look.

It starts an embedded PostgreSQL (pgserver) in ``--data-dir``, fills it once with
seeded sample data (``demo_data``), generates a masking and audit key set and the
identities' passwords, writes a ``veil.yaml`` next to them, runs the proxy in this
process, prints ready-to-paste ``psql`` lines and a short tour (the same SELECT as
each identity), and on Ctrl-C stops the proxy and the database cleanly.

Everything it creates lives in the data directory, so a second run starts in a
second (no initdb, no data load) and prints the same passwords.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import secrets
import shlex
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import psycopg
import yaml
from psycopg.conninfo import conninfo_to_dict

from veil.cli import demo_data

DATABASE = "demo"
IDENTITIES: tuple[tuple[str, list[str], str, str | None], ...] = (
    # name, groups, kind, reason needed (the psql line sets PGOPTIONS)
    ("analyst", ["analysts"], "human", None),
    ("agent", [], "agent", "demo-tour"),
    ("admin", ["dba"], "human", "INC-1234"),
)
TOUR_SQL = (
    "SELECT id, full_name, email, phone, ssn, date_of_birth FROM customers ORDER BY id LIMIT 3",
    "SELECT id, notes FROM support_tickets ORDER BY id LIMIT 2",
)
AGENT_REFUSALS = (
    ("a write as agent", "UPDATE customers SET email = 'someone@example.org' WHERE id = 1"),
    ("api_credentials as agent", "SELECT provider, token FROM api_credentials LIMIT 1"),
)

POLICIES: list[dict[str, Any]] = [
    {
        "name": "ai-agents",
        "when": {"kind": "agent"},
        "access": "read-only",
        "require_reason": True,
        "mask": {"default": "pseudonymize", "credit_card": "partial", "secret": "redact"},
        "tables": {"allow": ["public.*"], "deny": ["public.api_credentials"]},
        "max_rows": 10000,
        "max_bytes": "50MB",
        "statement_timeout": "30s",
        "deny_functions": ["pg_sleep"],
        "predicates_on_masked": "deny",
    },
    {
        "name": "analysts",
        "when": {"groups": ["analysts"]},
        "access": "read-only",
        "mask": {"default": "pseudonymize", "credit_card": "partial", "secret": "redact"},
    },
    {
        "name": "break-glass",
        "when": {"groups": ["dba"]},
        "access": "read-write",
        "require_reason": True,
        "mask": {"default": "none"},
    },
]
COLUMNS = {
    "public.patients.diagnosis": "health",
    "public.patients.icd10": "health",
    "public.payments.amount": "none",
}


class PortTaken(click.ClickException):
    """A listener could not bind: a usage problem (exit 2, INTERFACE.md), not a crash."""

    exit_code = 2


@dataclass(frozen=True)
class Login:
    name: str
    password: str
    reason: str | None


def _echo(text: str = "", **style: Any) -> None:
    click.secho(text, **style)


@contextlib.contextmanager
def embedded_postgres(pgdata: Path) -> Iterator[str]:
    """pgserver in ``pgdata`` (initdb on first use); yields an admin DSN over its Unix socket."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR in containers
        warnings.simplefilter("ignore")
        import pgserver  # heavy; only the demo needs it

    started = time.monotonic()
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _echo(f"  PostgreSQL ready in {time.monotonic() - started:.1f}s ({pgdata})")
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(server.get_uri()).items()}
        params.pop("password", None)
        yield " ".join(f"{k}={v}" for k, v in params.items() if v)
    finally:
        server.cleanup()


def ensure_database(admin_dsn: str) -> str:
    """The demo database, created and loaded on first run; returns its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = DATABASE
    dsn = " ".join(f"{k}={v}" for k, v in params.items() if v)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not demo_data.is_loaded(conn):
            started = time.monotonic()
            counts = demo_data.load(conn)
            summary = ", ".join(f"{n} {t}" for t, n in counts.items())
            _echo(f"  sample data loaded in {time.monotonic() - started:.1f}s: {summary}")
    return dsn


def ensure_passwords(secrets_dir: Path) -> list[Login]:
    """One random password per identity, kept in files (0600) so reruns print the same ones."""
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    logins = []
    for name, _groups, _kind, reason in IDENTITIES:
        path = secrets_dir / f"{name}.password"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(12))
        logins.append(Login(name, path.read_text().strip(), reason))
    return logins


def ensure_keys(keys_dir: Path) -> dict[str, str]:
    """The masking key and audit signing key pair, generated on first run by ``veil keys generate``."""
    from veil.cli import keys

    if not (keys_dir / "masking.key").exists():
        keys.generate_keys(keys_dir)
    return {"masking": f"file:{keys_dir / 'masking.key'}", "audit_signing": f"file:{keys_dir / 'audit.key'}"}


def write_config(data_dir: Path, upstream: str, host: str, port: int, http_port: int,
                 keys: dict[str, str], secrets_dir: Path) -> Path:
    config = {
        "listen": {"postgres": f"{host}:{port}", "http": f"{host}:{http_port}"},
        "upstream": {"postgres": upstream},
        "keys": keys,
        "identity": {
            "users": [
                {"name": name, "password": f"file:{secrets_dir / f'{name}.password'}", "groups": groups,
                 "kind": kind}
                for name, groups, kind, _ in IDENTITIES
            ]
        },
        "policies": POLICIES,
        "columns": COLUMNS,
        "audit": {"store": f"sqlite:///{data_dir / 'audit.db'}"},
    }
    path = data_dir / "veil.yaml"
    path.write_text("# written by `veil demo`; edit and restart the demo, or use it with `veil serve -c`\n"
                    + yaml.safe_dump(config, sort_keys=False))
    return path


def psql_line(login: Login, host: str, port: int) -> str:
    url = f"postgresql://{login.name}:{login.password}@{host}:{port}/{DATABASE}"
    prefix = f"PGOPTIONS={shlex.quote(f'-c veil.reason={login.reason}')} " if login.reason else ""
    return f"{prefix}psql {shlex.quote(url)}"


def tour(logins: list[Login], host: str, port: int) -> None:
    """The same SELECTs as each identity (and what an agent may not do), through the proxy just started."""
    _echo("\nThe same queries as each identity:", bold=True)
    for sql in TOUR_SQL:
        _echo(f"  {sql}")
    for login in logins:
        options = f"-c veil.reason={login.reason}" if login.reason else ""
        _echo(f"\n-- as {login.name}" + (f" (reason {login.reason})" if login.reason else ""), fg="cyan")
        try:
            with psycopg.connect(host=host, port=port, user=login.name, password=login.password,
                                 dbname=DATABASE, options=options, connect_timeout=10) as conn:
                for sql in TOUR_SQL:
                    cur = conn.execute(sql)
                    _print_table([d.name for d in cur.description or ()], cur.fetchall())
                if login.name == "agent":
                    for what, sql in AGENT_REFUSALS:
                        _try(conn, what, sql)
                conn.rollback()  # the tour never changes the demo data
        except psycopg.Error as exc:
            _echo(f"   refused: {exc.diag.sqlstate or ''} {str(exc).strip()}", fg="yellow")


def _try(conn: psycopg.Connection[Any], what: str, sql: str) -> None:
    try:
        conn.execute(sql)
        _echo(f"   {what}: allowed", fg="yellow")
    except psycopg.Error as exc:
        _echo(f"   {what}: refused, {exc.diag.sqlstate} {exc.diag.message_primary}", fg="green")
    finally:
        conn.rollback()


def _print_table(names: list[str], rows: list[tuple[Any, ...]]) -> None:
    cells = [[str(v) if v is not None else "" for v in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    _echo("   " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    _echo("   " + "-+-".join("-" * w for w in widths))
    for row in cells:
        _echo("   " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


@contextlib.contextmanager
def tcp_to_unix(socket_path: str) -> Iterator[int]:
    """A loopback TCP port forwarding to a Unix socket; yields the port.

    pgserver listens only on a Unix socket and veil's upstream speaks TCP; the demo
    bridges the two rather than reconfigure the embedded server.  The bridge runs its
    own event loop in a thread: the proxy's loop makes short blocking upstream calls
    (catalog loads), which would deadlock against a bridge on the same loop.
    """

    async def bridge(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_unix_connection(socket_path)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pump(client_r, server_w), _pump(server_r, client_w))

    loop = asyncio.new_event_loop()
    started: queue.Queue[asyncio.Server | BaseException] = queue.Queue()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.put(loop.run_until_complete(asyncio.start_server(bridge, "127.0.0.1", 0)))
        except BaseException as exc:  # handed to the caller
            started.put(exc)
            return
        loop.run_forever()

    thread = threading.Thread(target=run, name="veil-demo-bridge", daemon=True)
    thread.start()
    server = started.get(timeout=10)
    if isinstance(server, BaseException):
        raise server
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def socket_path(dsn: str) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    return f"{params['host']}/.s.PGSQL.{params.get('port') or 5432}"


async def _main(data_dir: Path, dsn: str, logins: list[Login], listen: tuple[str, int, int],
                keys: dict[str, str], skip_tour: bool) -> None:
    from veil import app
    from veil.config import load_config
    from veil.frontends.mcp.stdio import mcp_client_config

    host, port, http_port = listen
    with tcp_to_unix(socket_path(dsn)) as upstream_port:
        upstream = f"postgresql://postgres@127.0.0.1:{upstream_port}/{DATABASE}"
        config_path = write_config(data_dir, upstream, host, port, http_port, keys, data_dir / "secrets")
        settings = load_config(config_path)
        ready = asyncio.Event()
        # app.serve installs its own SIGINT/SIGTERM handlers and returns after a graceful stop
        proxy = asyncio.create_task(app.serve(settings, reload=lambda: load_config(config_path),
                                              ready=lambda _h, _p: ready.set()))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({proxy, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if proxy.done():
            waiter.cancel()
            try:
                proxy.result()  # raises the startup error
            except OSError as exc:  # typically the port is taken (another demo, a local PostgreSQL)
                raise PortTaken(f"cannot listen on {host}:{port} or {http_port}: {exc.strerror or exc}; "
                                "choose others with --port / --http-port") from exc
            return
        _echo(f"\nveil is listening on {host}:{port}. Paste one of these into a shell:\n", bold=True)
        for login in logins:
            _echo(f"  # {login.name} (password {login.password})")
            _echo(f"  {psql_line(login, host, port)}\n")
        analyst = logins[0]
        _echo(f"HTTP API and MCP on http://{host}:{http_port} (/v1/query, /mcp, /healthz), e.g.:")
        _echo(f"  curl -s -u {analyst.name}:{analyst.password} -H 'content-type: application/json' "
              f"-d '{{\"sql\": \"SELECT full_name, email FROM customers LIMIT 2\"}}' "
              f"http://{host}:{http_port}/v1/query\n")
        agent = next((login for login in logins if login.name == "agent"), analyst)
        _echo("MCP for a desktop AI client (mcpServers entry; `veil mcp` on stdio as the agent):")
        snippet = mcp_client_config(config_path, f"{agent.name}:{agent.password}")
        _echo(textwrap.indent(json.dumps(snippet, indent=2), "  ") + "\n")
        if not skip_tour:
            await asyncio.to_thread(tour, logins, host, port)
        _echo(f"\nConfig: {config_path}   Press Ctrl-C to stop.", bold=True)
        await proxy


@click.command("demo")
@click.option("--port", default=6432, show_default=True, help="PostgreSQL port veil listens on.")
@click.option("--http-port", default=8080, show_default=True, help="Port of the HTTP API and console.")
@click.option("--data-dir", default="./.veil-demo", show_default=True, type=click.Path(path_type=Path),
              help="Where the database, keys, passwords, config and audit trail live.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--no-tour", is_flag=True, help="Skip the printed tour.")
def demo(port: int, http_port: int, data_dir: Path, host: str, no_tour: bool) -> None:
    """Run an embedded PostgreSQL with sample data behind veil.

    \b
    Example:
      veil demo --port 6432 --data-dir ./.veil-demo
    """
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _echo("Starting the veil demo ...", bold=True)
    with embedded_postgres(data_dir / "pg") as admin_dsn:
        dsn = ensure_database(admin_dsn)
        logins = ensure_passwords(data_dir / "secrets")
        keys = ensure_keys(data_dir / "keys")
        asyncio.run(_main(data_dir, dsn, logins, (host, port, http_port), keys, no_tour))
    _echo("veil demo stopped.")
