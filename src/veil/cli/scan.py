"""``veil scan DSN``: classify the columns of a live PostgreSQL database.

Samples each table (read-only transaction, statement timeout), runs the column
classifier on every column, and prints per column the detected type(s), the share of
sampled values that showed them, the confidence and why (values, name, both), plus a
ready-to-paste ``columns:`` block for veil.yaml.  Sampled values never leave the
process and are never printed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import click
import psycopg
from psycopg import sql

from veil.detect import ColumnClassification, classify_column, default_scanner
from veil.errors import UpstreamError

_TABLES = """
SELECT n.nspname, c.relname, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'v', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
  AND n.nspname NOT LIKE 'pg_temp%%' AND has_table_privilege(c.oid, 'SELECT')
ORDER BY 1, 2
"""
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_CONFIDENT = 0.8  # suggested in the columns: block from this confidence up


@dataclass(frozen=True, slots=True)
class ColumnReport:
    table: str  # "schema.table"
    column: str
    pg_type: str
    result: ColumnClassification

    def as_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "column": self.column,
            "pg_type": self.pg_type,
            "types": [
                {"type": g.type, "share": g.share, "confidence": g.confidence, "why": g.why}
                for g in self.result.types
            ],
            "free_text": self.result.free_text,
            "sampled": self.result.sampled,
        }


def scan_database(
    dsn: str, *, sample: int, on_table: Callable[[str, int], None] | None = None
) -> Iterator[ColumnReport]:
    """Classify every readable column; ``on_table(name, total)`` is called as each table starts."""
    scanner = default_scanner()
    with psycopg.connect(dsn, autocommit=False, connect_timeout=10) as conn:
        conn.read_only = True
        conn.execute("SET LOCAL statement_timeout = '30s'")
        tables = conn.execute(_TABLES).fetchall()
        for schema, table, estimate in tables:
            name = f"{schema}.{table}"
            if on_table:
                on_table(name, len(tables))
            columns = conn.execute(_COLUMNS, (schema, table)).fetchall()
            if not columns:
                continue
            rows = _sample(conn, schema, table, [c for c, _ in columns], sample, estimate)
            for index, (column, pg_type) in enumerate(columns):
                values = [row[index] for row in rows]
                result = classify_column(column, pg_type, values, scanner=scanner)
                yield ColumnReport(name, column, pg_type, result)


def _sample(
    conn: psycopg.Connection, schema: str, table: str, columns: list[str], n: int, estimate: int
) -> list[tuple[str | None, ...]]:
    """Up to ``n`` rows as text; a Bernoulli sample when the table is much larger than ``n``."""
    select = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
    source = sql.Identifier(schema, table)
    if estimate > 10 * n:
        percent = min(100.0, 200.0 * n / estimate)
        query = sql.SQL("SELECT {} FROM {} TABLESAMPLE BERNOULLI ({}) LIMIT {}").format(
            select, source, sql.Literal(percent), sql.Literal(n)
        )
    else:
        query = sql.SQL("SELECT {} FROM {} LIMIT {}").format(select, source, sql.Literal(n))
    try:
        with conn.transaction():
            return [tuple(r) for r in conn.execute(query).fetchall()]
    except psycopg.errors.FeatureNotSupported:  # views and foreign tables cannot TABLESAMPLE
        fallback = sql.SQL("SELECT {} FROM {} LIMIT {}").format(select, source, sql.Literal(n))
        with conn.transaction():
            return [tuple(r) for r in conn.execute(fallback).fetchall()]


def suggested_columns(reports: list[ColumnReport]) -> dict[str, str]:
    """``columns:`` entries for confidently typed, non-free-text columns."""
    return {
        f"{r.table}.{r.column}": r.result.types[0].type
        for r in reports
        if r.result.types and not r.result.free_text and r.result.types[0].confidence >= _CONFIDENT
    }


def _yaml_block(columns: dict[str, str]) -> str:
    if not columns:
        return "columns: {}\n"
    return "columns:\n" + "".join(f"  {key}: {value}\n" for key, value in columns.items())


def _print_table(reports: list[ColumnReport]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="veil scan", show_lines=False)
    for header in ("column", "pg type", "detected", "share", "confidence", "why"):
        table.add_column(header)
    for r in reports:
        name = f"{r.table}.{r.column}"
        if r.result.clean:
            table.add_row(name, r.pg_type, "[dim]-[/dim]", "", "", "")
            continue
        for i, g in enumerate(r.result.types):
            label = g.type + (" (free text)" if r.result.free_text else "")
            table.add_row(
                name if i == 0 else "",
                r.pg_type if i == 0 else "",
                label,
                f"{g.share:.0%}",
                f"{g.confidence:.2f}",
                g.why,
            )
    # piped or redirected: no terminal width to respect, so never truncate names
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    console.print("\nSuggested for veil.yaml:\n")
    console.print(_yaml_block(suggested_columns(reports)), markup=False, highlight=False)


@click.command("scan")
@click.argument("dsn", metavar="DSN")
@click.option(
    "--sample",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Rows sampled per table.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def scan(dsn: str, sample: int, fmt: str) -> None:
    """Classify the columns of a live database: type(s), share, confidence and why.

    \b
    Example:
      veil scan postgresql://reader@127.0.0.1:5432/app --sample 500
      veil scan "$DATABASE_URL" --format json > columns.json
    """
    try:
        reports = _collect(dsn, sample, progress=sys.stderr.isatty() and fmt == "table")
    except psycopg.Error as exc:
        # libpq messages name host and database, never the password
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UpstreamError(f"scan: {type(exc).__name__}: {message}") from None
    if fmt == "json":
        payload = {"columns": [r.as_json() for r in reports], "suggested_columns": suggested_columns(reports)}
        click.echo(json.dumps(payload, indent=2))
    else:
        _print_table(reports)


def _collect(dsn: str, sample: int, *, progress: bool) -> list[ColumnReport]:
    if not progress:
        return list(scan_database(dsn, sample=sample))
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("sampling tables", total=None)

        def on_table(name: str, total: int) -> None:
            bar.update(task, total=total, advance=1, description=f"sampling {name}")

        return list(scan_database(dsn, sample=sample, on_table=on_table))
