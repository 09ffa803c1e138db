"""``veil mask``: static masking of a CSV or JSON Lines file or stream for exports and AI training sets.

The identity's policy (first match, as in the proxy) gives the mask map, and the same
detection and maskers as the proxy do the work, so a file masked here matches what the
identity would see through veil.  Streams record by record: memory stays flat.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click

from veil.config import Settings, load_config
from veil.errors import PolicyDenied
from veil.mask.engine import MaskEngine
from veil.mask.stream import mask_csv_rows, mask_jsonl_lines
from veil.policy import PolicySet
from veil.values import Identity

csv.field_size_limit(sys.maxsize)


def _identity(settings: Settings, name: str) -> Identity:
    for user in settings.identity.users:
        if user.name == name:
            return Identity(subject=name, groups=user.groups, kind=user.kind)
    return Identity(subject=name)


def mask_map_for(settings: Settings, identity_name: str) -> dict[str, str]:
    """The mask map of the identity's first matching policy (PolicyDenied when none or deny)."""
    policy = PolicySet.from_settings(settings).match(_identity(settings, identity_name), client_addr="local")
    if policy is None or policy.access == "deny":
        raise PolicyDenied(f"no policy lets identity {identity_name} read data",
                           policy=policy.name if policy else None)
    return dict(policy.mask)


def _format(fmt: str | None, path: str) -> str:
    if fmt:
        return fmt
    return "jsonl" if path.endswith((".jsonl", ".ndjson", ".json")) else "csv"


def _lines(stream: IO[str], total: int | None) -> Iterator[str]:
    """The input lines, with a progress bar when stderr is a terminal and the size is known."""
    if not (sys.stderr.isatty() and total):
        yield from stream
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), transient=True) as progress:
        task = progress.add_task("masking", total=total)
        for line in stream:
            progress.advance(task, len(line.encode("utf-8")))
            yield line


@click.command()
@click.option("-c", "--config", "config_path", envvar="VEIL_CONFIG", required=True,
              type=click.Path(dir_okay=False), help="veil.yaml (also $VEIL_CONFIG).")
@click.option("--identity", required=True, help="Whose policy decides how values are masked.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="Input format (default: from the input file name, else csv).")
@click.option("-i", "--input", "input_path", default="-", show_default=True, help="Input file, - for stdin.")
@click.option("-o", "--output", "output_path", default="-", show_default=True,
              help="Output file, - for stdout.")
@click.option("--table", default=None, help="schema.table whose `columns:` tags apply to the CSV header.")
def mask(config_path: str, identity: str, fmt: str | None, input_path: str, output_path: str,
         table: str | None) -> None:
    """Mask a CSV or JSON Lines file or stream as IDENTITY would see it through veil.

    \b
    Example:
      veil mask -c veil.yaml --identity agent -i customers.csv -o customers.masked.csv
      cat events.jsonl | veil mask -c veil.yaml --identity analyst --format jsonl > masked.jsonl
    """
    settings = load_config(config_path)
    mask_map = mask_map_for(settings, identity)
    engine = MaskEngine.from_settings(settings)
    kind = _format(fmt, input_path)
    total = os.path.getsize(input_path) if input_path != "-" and Path(input_path).is_file() else None
    src = sys.stdin if input_path == "-" else open(input_path, encoding="utf-8", newline="")  # noqa: SIM115
    dst = sys.stdout if output_path == "-" else open(output_path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        lines = _lines(src, total)
        if kind == "csv":
            writer = csv.writer(dst, lineterminator="\n")
            for row in mask_csv_rows(engine, csv.reader(lines), mask_map, tags=settings.columns, table=table):
                writer.writerow(row)
        else:
            for masked in mask_jsonl_lines(engine, lines, mask_map):
                dst.write(masked + "\n")
        dst.flush()
    finally:
        if src is not sys.stdin:
            src.close()
        if dst is not sys.stdout:
            dst.close()

