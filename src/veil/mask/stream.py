"""Static masking of CSV and JSON Lines streams (``veil mask``), one record at a time.

Pure iterators in, iterators out, so memory stays flat however large the file.  CSV
columns are planned once from the header: a column tag (with ``table``) or a confident
name hint masks every cell as that type; any other column is scanned cell by cell with
its name as a hint.  A JSON Lines record is masked like a jsonb document: keys kept,
values scanned with their key path as the column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from veil.detect import name_hints
from veil.mask.engine import MaskEngine
from veil.mask.jsonmask import mask_json

#: a name hint at least this sure masks every cell of the column as the type
TYPED_HINT = 0.7


@dataclass(frozen=True, slots=True)
class CsvColumn:
    name: str
    data_type: str | None  # None: scan cells
    method: str  # "none" skips the column
    hinted: bool


def plan_csv(engine: MaskEngine, header: list[str], mask_map: Mapping[str, str], *,
             tags: Mapping[str, str] | None = None, table: str | None = None) -> list[CsvColumn]:
    plans = []
    for name in header:
        tag = (tags or {}).get(f"{table}.{name}") if table else None
        hints = name_hints(name)
        if tag == "none":
            plans.append(CsvColumn(name, None, "none", False))
        elif tag:
            plans.append(CsvColumn(name, tag, engine.resolve_method(tag, mask_map), True))
        elif hints and hints[0].confidence >= TYPED_HINT:
            plans.append(CsvColumn(name, hints[0].type, engine.resolve_method(hints[0].type, mask_map), True))
        else:
            plans.append(CsvColumn(name, None, "scan", bool(hints)))
    return plans


def mask_csv_rows(engine: MaskEngine, rows: Iterable[list[str]], mask_map: Mapping[str, str], *,
                  tags: Mapping[str, str] | None = None, table: str | None = None) -> Iterator[list[str]]:
    """The header unchanged, then each row masked; an empty cell stays empty (CSV's NULL)."""
    it = iter(rows)
    header = next(it, None)
    if header is None:
        return
    yield header
    plans = plan_csv(engine, header, mask_map, tags=tags, table=table)
    for row in it:
        out = list(row)
        for i, value in enumerate(row):
            if not value or i >= len(plans):
                if value and i >= len(plans):  # a ragged row: scan what has no header
                    out[i] = engine.scan_and_mask(value, mask_map)
                continue
            plan = plans[i]
            if plan.method == "none":
                continue
            if plan.data_type is not None:
                out[i] = engine.mask_text(plan.data_type, plan.method, value)
            else:
                out[i] = engine.scan_and_mask(value, mask_map, column=plan.name if plan.hinted else None)
        yield out


def mask_jsonl_lines(engine: MaskEngine, lines: Iterable[str], mask_map: Mapping[str, str]) -> Iterator[str]:
    """Each non-blank line masked as a JSON document (without its newline); blank lines dropped."""
    for line in lines:
        if line.strip():
            yield mask_json(engine, line, None, "pseudonymize", mask_map)
