"""The MaskPlan builder behind ``Pipeline.plan_mask``: columns -> type -> method, once per shape.

Per output column the data type comes from, in order: the config's ``columns:`` tag, the
lineage of the statement (a computed column masks as its source's type), the column
name's hint, and otherwise the values themselves: text-like columns are scanned cell by
cell (the RE2 prefilter rejects clean cells cheaply), so a PII value in row 10,000 of an
innocent-looking column is still caught, and free text gets span masking.  Clean
structured columns (booleans, timestamps, numbers without a hint) are never decoded.

Plans are cached per (shape, mask map, lineage); each ``plan`` call returns a fresh
``PlannedRowMasker`` around the cached plan, so provenance counts are per request.
Everything fails closed: an unexpected error while masking raises ``MaskingError``.

Wiring (the composition root builds one planner per config and shares it)::

    planner = MaskPlanner.from_settings(settings)            # engine from keys.masking
    plan_mask(request, columns)  -> planner.plan(request.decision, columns, lineage)
    mask_fields(session, fields) -> planner.mask_fields(decision, fields)
    mask_notification(...)       -> planner.mask_notification(decision, payload)
    COPY TO STDOUT data rows     -> planner.mask_copy_row(decision, row, csv=..., delimiter=...)

``decision`` for session-level messages is the session's latest decision (its mask
map is all that is read); ``lineage`` is ``veil.sql.lineage``'s per-column output, or
None when unknown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from veil.config import Settings
from veil.detect import TYPES, Scanner, name_hints
from veil.errors import MaskingError, VeilError
from veil.mask.copyrows import mask_copy_line
from veil.mask.engine import MaskEngine
from veil.mask.pgtypes import ARRAY_OF, BYTEA, CIDR, HANDLERS, INET, JSON, JSONB, MACADDR, TEXT_OIDS
from veil.values import ColumnInfo, Decision, MaskProvenance

Kind = Literal["typed", "scan"]
#: a name hint at least this sure masks the whole cell as the type; weaker ones steer the scanner
TYPED_HINT = 0.7
#: error/notice fields the server fills from a fixed vocabulary (severity, SQLSTATE)
FIXED_FIELDS = frozenset({"S", "V", "C", "severity", "severity_nonlocalized", "code", "sqlstate"})
_SCANNED_ELEMENTS = TEXT_OIDS | {JSON, JSONB, BYTEA}
_SCANNED_OIDS = _SCANNED_ELEMENTS | {a for a, e in ARRAY_OF.items() if e in _SCANNED_ELEMENTS}
_TEXTS = TEXT_OIDS | {a for a, e in ARRAY_OF.items() if e in TEXT_OIDS}  # text and text[] (array_agg)
_IP_OIDS = frozenset({INET, CIDR} | {a for a, e in ARRAY_OF.items() if e in (INET, CIDR)})
_MAC_OIDS = frozenset({MACADDR} | {a for a, e in ARRAY_OF.items() if e == MACADDR})
_SHAPE_KEEPING = frozenset({"identity", "cast", "case-change"})
#: types a scanner rarely finds inside free text without a column name to go by
_SCAN_BLIND = frozenset({"person_name", "street_address", "health", "date_of_birth", "passport",
                         "national_id", "tax_id", "bank_account", "medical_record_number"})


class LineageLike(Protocol):
    """What the planner reads of ``veil.sql.lineage.OutputLineage``."""

    sources: frozenset[str]
    transform: str
    complete: bool


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    index: int
    name: str
    type_oid: int
    fmt: int
    kind: Kind
    data_type: str | None  # None for scanned columns
    method: str
    source: str  # "tag", "lineage", "name", "scan"
    hint_column: str | None  # the name given to the scanner (None: prefilter fast path)


class PlannedRowMasker:
    """Applies one cached plan to the rows of one result; counts what it masked."""

    def __init__(self, engine: MaskEngine, plans: tuple[ColumnPlan, ...], width: int,
                 mask_map: Mapping[str, str]) -> None:
        self._engine = engine
        self._plans = plans
        self._width = width
        self._mask_map = mask_map
        self._mask_items = tuple(sorted(mask_map.items()))
        self._counts = [0] * len(plans)

    @property
    def plans(self) -> tuple[ColumnPlan, ...]:
        return self._plans

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        if len(values) != self._width:
            raise MaskingError(f"row has {len(values)} values, result shape has {self._width}")
        out = list(values)
        try:
            for n, plan in enumerate(self._plans):
                raw = values[plan.index]
                if raw is None:
                    continue
                masked = self._mask(plan, raw)
                if masked != raw:
                    self._counts[n] += 1
                    out[plan.index] = masked
        except VeilError:
            raise
        except Exception as exc:
            raise MaskingError(f"masking failed ({type(exc).__name__})") from None
        return out

    def _mask(self, plan: ColumnPlan, raw: bytes) -> bytes | None:
        engine = self._engine
        if plan.kind == "typed":
            return engine.mask_pg_cached(plan.data_type, plan.method, plan.type_oid, plan.fmt, raw,
                                         self._mask_items)
        if plan.type_oid in TEXT_OIDS or (plan.fmt == 0 and plan.type_oid not in HANDLERS
                                          and plan.type_oid not in ARRAY_OF):
            return engine.scan_text_cell(raw, self._mask_items, plan.hint_column)
        # json/jsonb, arrays, composite rows, unknown binary values: walked by their structure
        return engine.mask_pg(None, "pseudonymize", plan.type_oid, plan.fmt, raw, mask_map=self._mask_map)

    def provenance(self) -> list[MaskProvenance]:
        key_id = self._engine.key_id
        return [MaskProvenance(column=p.name, type=p.data_type,
                               method=p.method if p.kind == "typed" else "scan",
                               key_id=key_id, count=c, source=p.source)
                for p, c in zip(self._plans, self._counts, strict=True)]


class MaskPlanner:
    """Builds (and caches) the per-shape masking plan for a decision's mask map."""

    def __init__(self, engine: MaskEngine, scanner: Scanner | None = None,
                 column_tags: Mapping[str, str] | None = None, *, cache_size: int = 1024) -> None:
        self.engine = engine
        self.scanner = scanner if scanner is not None else engine.scanner
        self.column_tags = dict(column_tags or {})
        self._cache: OrderedDict[tuple[object, ...], tuple[ColumnPlan, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._nothing: dict[tuple[tuple[str, str], ...], bool] = {}

    @classmethod
    def from_settings(cls, settings: Settings, engine: MaskEngine | None = None,
                      scanner: Scanner | None = None) -> MaskPlanner:
        """A planner for a config: its ``columns:`` tags, and an engine from its keys unless given."""
        engine = engine if engine is not None else MaskEngine.from_settings(settings, scanner=scanner)
        return cls(engine, scanner, settings.columns)

    # -- results ----------------------------------------------------------------------------

    def plan(self, decision: Decision, columns: Sequence[ColumnInfo],
             lineage: Sequence[LineageLike | None] | None = None) -> PlannedRowMasker | None:
        """The RowMasker for one result shape, or None when nothing in it can need masking."""
        mask_map = decision.mask_map()
        if self.masks_nothing(mask_map):
            return None
        key = (tuple((c.name, c.type_oid, c.format, c.table, c.column) for c in columns),
               tuple(sorted(mask_map.items())), _lineage_key(lineage))
        plans = self._cache.get(key)
        if plans is None:
            plans = tuple(p for i, c in enumerate(columns)
                          if (p := self._column(i, c, mask_map, lineage[i] if lineage and i < len(lineage)
                                                else None)) is not None)
            self._cache[key] = plans
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        if not plans:
            return None
        return PlannedRowMasker(self.engine, plans, len(columns), mask_map)

    def masks_nothing(self, mask_map: Mapping[str, str]) -> bool:
        """True when every type resolves to ``none`` (secrets included: they need ``secret: none``)."""
        key = tuple(sorted(mask_map.items()))
        found = self._nothing.get(key)
        if found is None:
            found = all(self.engine.resolve_method(t, mask_map) == "none" for t in TYPES)
            if len(self._nothing) < 1024:
                self._nothing[key] = found
        return found

    def _column(self, index: int, col: ColumnInfo, mask_map: Mapping[str, str],
                lineage: LineageLike | None) -> ColumnPlan | None:
        def typed(data_type: str, source: str, force: str | None = None) -> ColumnPlan | None:
            method = self.engine.resolve_method(data_type, mask_map)
            if method == "none":
                return None
            if force is not None:
                method = force
            return ColumnPlan(index, col.name, col.type_oid, col.format, "typed", data_type, method, source,
                              None)

        if col.table and col.column:
            tag = self.column_tags.get(f"{col.table}.{col.column}")
            if tag == "none":
                return None
            if tag:
                return typed(tag, "tag")
        if lineage is not None:
            verdict = self._from_lineage(lineage, text_like=col.type_oid in _TEXTS,
                                         json_like=col.type_oid in (JSON, JSONB))
            if isinstance(verdict, str):
                return None
            if verdict is not None:
                data_type, force = verdict
                return typed(data_type, "lineage", force)
        hints = name_hints(col.column or col.name)
        if hints and hints[0].confidence >= TYPED_HINT:
            return typed(hints[0].type, "name")
        if col.type_oid in _IP_OIDS:  # the type itself says what the value is
            return typed("ip_address", "values")
        if col.type_oid in _MAC_OIDS:
            return typed("mac_address", "values")
        if col.type_oid in _SCANNED_OIDS or (col.type_oid not in HANDLERS and col.type_oid not in ARRAY_OF):
            hint = col.column or col.name if hints else None
            return ColumnPlan(index, col.name, col.type_oid, col.format, "scan", None, "scan", "scan", hint)
        return None  # clean structured type without a hint: never decoded

    def _source_type(self, source: str) -> str | None:
        tag = self.column_tags.get(source)
        if tag:
            return tag
        hints = name_hints(source.rsplit(".", 1)[-1])
        return hints[0].type if hints and hints[0].confidence >= TYPED_HINT else None

    def _from_lineage(self, lineage: LineageLike, *, text_like: bool = False, json_like: bool = False
                      ) -> tuple[str, str | None] | str | None:
        """(type, forced method or None), ``"clean"``, or None (fall back to name and values).

        A shape-keeping derivation (``upper(email)``, ``ssn::text``) masks as the source
        type; a ``transformed`` one (``md5(ssn)``, ``encode(convert_to(ssn,...),'hex')``)
        has lost the shape, so it is redacted.  ``embedded`` values are left to the scan,
        except in a plain text (or text[]) value built from one type the scanner cannot see
        in free text (``concat(first_name, ' ', last_name)``, ``array_agg(full_name)``):
        that is masked whole (element by element) as the type; mixed with other types
        (``c::text`` of a row with a name column) the whole text is redacted, and a whole-row
        record (``SELECT c``) becomes NULL.  JSON keeps its key-path masking.
        """
        if not lineage.sources or not lineage.complete:
            return None
        types = {self._source_type(s) for s in lineage.sources}
        if types == {"none"}:
            return "clean"
        sensitive = sorted(t for t in types if t not in (None, "none"))
        if not sensitive:
            return None
        if lineage.transform in _SHAPE_KEEPING and len(sensitive) == 1 and len(types) == 1:
            return sensitive[0], None
        if lineage.transform == "transformed":
            return sensitive[0], "redact"
        blind = [t for t in sensitive if t in _SCAN_BLIND]
        if lineage.transform == "embedded" and blind and not json_like:
            if text_like and len(sensitive) == 1:
                return sensitive[0], None
            # ``c::text``, ``concat(name, email)``, a whole-row ``c``: the scan would miss the
            # name, so fail closed: text is redacted, other types (records) become NULL
            return blind[0], "redact" if text_like else "null"
        return None

    # -- messages ---------------------------------------------------------------------------

    def mask_fields(self, decision: Decision, fields: Mapping[str, str]) -> dict[str, str]:
        """ErrorResponse/NoticeResponse fields: every free-text field scanned and span-masked."""
        mask_map = decision.mask_map()
        if self.masks_nothing(mask_map):
            return dict(fields)
        try:
            return {k: v if k in FIXED_FIELDS else self.engine.scan_and_mask(v, mask_map)
                    for k, v in fields.items()}
        except VeilError:
            raise
        except Exception as exc:
            raise MaskingError(f"masking a message failed ({type(exc).__name__})") from None

    def mask_notification(self, decision: Decision, payload: str) -> str:
        return self.mask_fields(decision, {"payload": payload})["payload"]

    def mask_copy_row(self, decision: Decision, line: bytes, *, csv: bool = False,
                      delimiter: str | None = None, null: str | None = None,
                      quote: str = '"', escape: str | None = None) -> bytes:
        """One COPY TO STDOUT data row (text or CSV format); column types unknown, every field scanned."""
        mask_map = decision.mask_map()
        if self.masks_nothing(mask_map):
            return line
        try:
            return mask_copy_line(line, lambda text: self.engine.scan_and_mask(text, mask_map), csv=csv,
                                  delimiter=delimiter, null=null, quote=quote, escape=escape)
        except VeilError:
            raise
        except Exception as exc:
            raise MaskingError(f"masking a COPY row failed ({type(exc).__name__})") from None


def _lineage_key(lineage: Sequence[LineageLike | None] | None) -> tuple[object, ...]:
    if lineage is None:
        return ()
    return tuple(None if item is None else (item.sources, item.transform, item.complete) for item in lineage)
