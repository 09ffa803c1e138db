"""``veil report``: the compliance report from the trail alone (HTML or JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from veil.audit.query import EventFilter
from veil.audit.report import build_report, render_html
from veil.cli.audit import filter_from, iter_events, open_trail, trail_options, verify_store


@click.command()
@trail_options
@click.option("--since", help="ISO 8601 time or relative (30d).")
@click.option("--until", help="ISO 8601 time or relative (exclusive).")
@click.option("--format", "fmt", type=click.Choice(["html", "json"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (else stdout).")
def report(config: Path | None, store: str | None, key: Path | None, since: str | None, until: str | None,
           fmt: str, output: Path | None) -> None:
    """Who reached which sensitive data, break-glass access, refusals, agents vs humans, policy versions,
    and whether the trail verified.

    Example: veil report -c veil.yaml --since 30d --format html -o report.html
    """
    flt: EventFilter = filter_from(None, None, None, None, since, until)
    trail = open_trail(config, store, key)
    verifiers = trail.verifiers()
    trail.record_read("report", required=True, since=flt.since, until=flt.until)
    try:
        results = verify_store(trail.sink(), verifiers, trail.anchor_notes(), allow_open_tail=True)
        bodies = [body for _, _, body in iter_events(trail, flt)]
    finally:
        trail.close()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    logs = [r.as_dict() for r in results]
    doc = build_report(bodies, logs, since=flt.since, until=flt.until, generated=now)
    text = render_html(doc) if fmt == "html" else json.dumps(doc, indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
