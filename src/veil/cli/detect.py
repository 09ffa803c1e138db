"""``veil detect``: find sensitive data in JSON Lines values read on stdin.

One JSON line in, one JSON line out, in order, flushed per line so it works in a pipe.
Offsets are Unicode code points of the value.  Values are never echoed or logged.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import click

from veil.detect import Scanner, default_scanner
from veil.values import Finding


def _finding_json(finding: Finding, explain: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": finding.type,
        "start": finding.start,
        "end": finding.end,
        "score": finding.score,
    }
    if explain:
        out["detector"] = finding.detector
        out["why"] = finding.why
    return out


def _parse(line: str, default_column: str | None) -> tuple[str | None, str | None]:
    """(value, column) of one input line; raises ValueError for a line that is not an input object."""
    item = json.loads(line)
    if isinstance(item, str):
        return item, default_column
    if not isinstance(item, dict) or "value" not in item:
        raise ValueError("expected an object with a 'value' key")
    value, column = item["value"], item.get("column", default_column)
    if column is not None and not isinstance(column, str):
        raise ValueError("'column' must be a string")
    if value is None:
        return None, column
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return str(value), column


def run_detect(
    lines: TextIO, out: TextIO, err: TextIO, *, scanner: Scanner, column: str | None, explain: bool
) -> int:
    """The command's loop, separate from click so tests can drive it; returns the exit code."""
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value, col = _parse(line, column)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            failures += 1
            reason = str(exc) if not isinstance(exc, json.JSONDecodeError) else "not valid JSON"
            err.write(f"veil detect: line {number}: {reason}\n")
            out.write(json.dumps({"findings": [], "error": reason}) + "\n")
            out.flush()
            continue
        findings = scanner.scan(value, column=col) if value else []
        out.write(json.dumps({"findings": [_finding_json(f, explain) for f in findings]}) + "\n")
        out.flush()
    return 1 if failures else 0


@click.command("detect")
@click.option("--column", "column", metavar="NAME", help="Column or JSON key name for lines that carry none.")
@click.option("--explain", is_flag=True, help="Also print the detector and the reason of each finding.")
def detect(column: str | None, explain: bool) -> None:
    """Detect sensitive data in JSON Lines values on stdin.

    Each input line is {"value": ..., "column": "optional name"}; each output line is
    {"findings": [{"type": ..., "start": ..., "end": ..., "score": ...}]} with offsets in
    Unicode code points of the value.  Exit 1 if any input line was malformed.

    \b
    Example:
      echo '{"value": "mail jane@example.com", "column": "notes"}' | veil detect
      {"findings": [{"type": "email", "start": 5, "end": 21, "score": 1.0}]}
    """
    code = run_detect(
        sys.stdin, sys.stdout, sys.stderr, scanner=default_scanner(), column=column, explain=explain
    )
    if code:
        # SystemExit, not click's Exit: veil.cli.main runs click with standalone_mode=False,
        # where click returns Exit's code instead of exiting
        raise SystemExit(code)
