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

The row path is built for the proxy's hot loop: a cached plan is compiled once into one
step per masked column, each with a cache of input -> output bytes (a clean status code
costs one lookup, no scan), plus a cache of whole DataRow messages; ``mask_data_row``
splices masked values into the upstream's message without decoding the other columns.
All caches of a planner share one byte budget and are flushed together when it is spent,
so memory stays flat on any result size; they belong to one plan under one engine (one
key), so two mask maps or two keys never share an entry.

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

import struct
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from veil.config import Settings
from veil.detect import TYPES, Scanner, name_hints
from veil.errors import MaskingError, RemoteProtocolError, VeilError
from veil.mask.copyrows import mask_copy_line
from veil.mask.engine import CACHE_MAX_VALUE, MaskEngine
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


#: rows longer than this (whole DataRow message) bypass the row cache; values use the engine's limit
ROW_CACHE_MAX = 1024
#: what one cache entry costs beyond its payload bytes (dict slot, key and value objects), roughly
ENTRY_OVERHEAD = 120
#: bytes of cache per engine LRU entry when the planner's budget is derived from the engine's size
BYTES_PER_ENTRY = 256
#: distinct "which columns changed" patterns a masker keeps before folding them into its counts
_PATTERNS_MAX = 256
#: distinct per-column count vectors a plan keeps the (frozen) provenance records of
_PROVENANCE_KEPT = 16
_SAME = object()  # cached: masking leaves this value as it is (other entries hold the wire form)
_MISS = object()
_INT32 = struct.Struct("!i").unpack_from
_PACK_INT32 = struct.Struct("!i").pack
_PACK_HEADER = struct.Struct("!cih").pack  # type byte, length, value count
_NULL = b"\xff\xff\xff\xff"

#: one column step: (bit of the column in a row's pattern, value index, value cache, masker)
Step = tuple[int, int, dict[bytes, object], Callable[[bytes], "bytes | None"]]


class CacheBudget:
    """The byte budget shared by every cache of one planner's compiled plans.

    The caches are plain dicts (a lookup is the cheapest thing Python does); this object
    counts their payload and, once the budget is spent, empties them all at once.  Memory
    therefore stays flat however many distinct rows stream through (a 10-million-row
    result refills and flushes, it never grows), and a flush costs O(entries) once per
    budget's worth of inserts.  A budget of 0 disables caching.
    """

    def __init__(self, budget: int) -> None:
        self.budget = max(0, budget)
        self.used = 0
        self.flushes = 0
        self._owners: weakref.WeakSet[CompiledPlan] = weakref.WeakSet()

    def register(self, owner: CompiledPlan) -> None:
        self._owners.add(owner)

    def charge(self, size: int) -> None:
        """Account for one insert; flush everything first when it would exceed the budget."""
        if self.used + size > self.budget:
            self.flush()
        self.used += size

    def flush(self) -> None:
        for owner in list(self._owners):
            owner.clear()
        self.used = 0
        self.flushes += 1


class CompiledPlan:
    """One cached plan made executable: a step per masked column, decided once, and its caches.

    It lives in the planner's plan cache, so its caches serve every request of the same
    shape, mask map and lineage under the planner's one engine (one key): masking is
    deterministic for those, so a cached output is exactly what masking would produce, and
    two mask maps or two keys never share an entry.  Value caches map a column's input
    bytes to ``_SAME`` (left as is: a clean status code costs one lookup, no scan), None
    (SQL NULL) or the masked bytes; the row cache maps a whole DataRow message to its
    masked message and the bit pattern of the columns it changed (for exact counts).
    """

    __slots__ = ("__weakref__", "budget", "by_index", "plans", "provenance", "row_cache", "rows", "steps",
                 "width")

    def __init__(self, engine: MaskEngine, plans: tuple[ColumnPlan, ...], width: int,
                 mask_map: Mapping[str, str], budget: CacheBudget, *, row_cache: bool = True) -> None:
        mask_items = tuple(sorted(mask_map.items()))
        self.plans = plans
        self.width = width
        self.budget = budget
        self.row_cache = row_cache and budget.budget > 0
        self.rows: dict[bytes, tuple[bytes, int]] = {}
        # per-column counts -> the audit records: repeated queries give the same counts
        self.provenance: dict[tuple[int, ...], tuple[MaskProvenance, ...]] = {}
        self.steps: tuple[Step, ...] = tuple(
            (1 << n, p.index, {}, _value_masker(engine, p, mask_items, mask_map))
            for n, p in enumerate(plans))
        by_index: list[Step | None] = [None] * width
        for step in self.steps:
            by_index[step[1]] = step
        self.by_index = tuple(by_index)  # the step of each column, None for the untouched ones
        budget.register(self)

    def clear(self) -> None:
        self.rows.clear()
        for step in self.steps:
            step[2].clear()

    def value(self, step: Step, raw: bytes) -> object:
        """``_SAME``, or the masked value as it goes on the wire (int32 length + bytes; ``_NULL``
        for SQL NULL) for one non-NULL value, through the step's cache."""
        cache = step[2]
        found = cache.get(raw, _MISS)
        if found is not _MISS:
            return found
        masked = step[3](raw)
        result: object = (_SAME if masked == raw else _NULL if masked is None
                          else _PACK_INT32(len(masked)) + masked)
        budget = self.budget
        if budget.budget and len(raw) <= CACHE_MAX_VALUE:
            budget.charge(len(raw) + (len(masked) if masked is not None else 0) + ENTRY_OVERHEAD)
            cache[raw] = result
        return result


def _value_masker(engine: MaskEngine, plan: ColumnPlan, mask_items: tuple[tuple[str, str], ...],
                  mask_map: Mapping[str, str]) -> Callable[[bytes], bytes | None]:
    """The masking function of one column, chosen once per plan instead of per cell."""
    if plan.kind == "typed":
        data_type, method, oid, fmt = plan.data_type, plan.method, plan.type_oid, plan.fmt
        typed = engine.mask_pg_cached
        return lambda raw: typed(data_type, method, oid, fmt, raw, mask_items)
    if plan.type_oid in TEXT_OIDS or (plan.fmt == 0 and plan.type_oid not in HANDLERS
                                      and plan.type_oid not in ARRAY_OF):
        scan, hint = engine.scan_text_cell, plan.hint_column
        return lambda raw: scan(raw, mask_items, hint)
    # json/jsonb, arrays, composite rows, unknown binary values: walked by their structure
    oid, fmt, structural = plan.type_oid, plan.fmt, engine.mask_pg
    return lambda raw: structural(None, "pseudonymize", oid, fmt, raw, mask_map=mask_map)


class PlannedRowMasker:
    """Applies one compiled plan to the rows of one result; counts what it masked.

    ``mask_data_row`` is the proxy's hot path: it takes the upstream's DataRow message and
    returns the client's, reading only the masked columns and splicing the bytes of every
    other column through untouched (no per-value objects, one ``b"".join``); a row seen
    before under the same plan is one dict lookup.  ``mask_row`` does the same on a list
    of values (COPY rows, capped results).  Both fail closed with ``MaskingError``.
    """

    def __init__(self, engine: MaskEngine, plans: tuple[ColumnPlan, ...], width: int,
                 mask_map: Mapping[str, str], compiled: CompiledPlan | None = None) -> None:
        self._compiled = compiled if compiled is not None else CompiledPlan(
            engine, plans, width, mask_map, CacheBudget(0))
        self._engine = engine
        self._width = width
        self._counts = [0] * len(plans)
        self._patterns: dict[int, int] = {}  # changed-columns bit pattern -> rows, folded lazily

    @property
    def plans(self) -> tuple[ColumnPlan, ...]:
        return self._compiled.plans

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        if len(values) != self._width:
            raise MaskingError(f"row has {len(values)} values, result shape has {self._width}")
        out = list(values)
        compiled = self._compiled
        counts = self._counts
        try:
            for n, step in enumerate(compiled.steps):
                raw = values[step[1]]
                if raw is None:
                    continue
                piece = compiled.value(step, raw)
                if piece is not _SAME:
                    counts[n] += 1
                    out[step[1]] = None if piece is _NULL else piece[4:]  # type: ignore[index]
        except VeilError:
            raise
        except Exception as exc:
            raise MaskingError(f"masking failed ({type(exc).__name__})") from None
        return out

    def mask_data_row(self, message: bytes) -> bytes:
        """The masked DataRow message for one whole upstream DataRow message (header included)."""
        compiled = self._compiled
        hit = compiled.rows.get(message)
        if hit is None:
            try:
                hit = self._rewrite(message)
            except VeilError:
                raise
            except Exception as exc:
                raise MaskingError(f"masking failed ({type(exc).__name__})") from None
            if compiled.row_cache and len(message) <= ROW_CACHE_MAX:
                out = hit[0]
                kept = len(out) if out is not message else 0
                compiled.budget.charge(len(message) + kept + ENTRY_OVERHEAD)
                compiled.rows[message] = hit
        pattern = hit[1]
        if pattern:
            patterns = self._patterns
            patterns[pattern] = patterns.get(pattern, 0) + 1
            if len(patterns) > _PATTERNS_MAX:
                self._fold()
        return hit[0]

    def _rewrite(self, message: bytes) -> tuple[bytes, int]:
        """(masked message, changed-columns pattern); the message itself when nothing changed.

        One walk over the fields: each length word is read once, only the masked columns'
        values are sliced out, and the whole row is validated as the codec would (every
        length, no missing or trailing bytes) before anything is returned.
        """
        compiled = self._compiled
        by_index = compiled.by_index
        end = len(message)
        if end < 7 or ((message[5] << 8) | message[6]) != len(by_index):
            raise MaskingError(f"row width differs from the result shape ({len(by_index)} columns)")
        value = compiled.value
        pieces: list[bytes] = [b""]
        append = pieces.append
        last = pos = 7  # the first byte after the header (type, length, count)
        delta = 0
        pattern = 0
        for step in by_index:
            size = _INT32(message, pos)[0]
            start = pos + 4
            if size < 0:
                if size != -1:
                    raise RemoteProtocolError(f"invalid DataRow value length {size}")
                pos = start  # NULL stays NULL
                continue
            stop = start + size
            if step is not None:
                raw = message[start:stop]
                masked = step[2].get(raw, _MISS)
                if masked is _MISS:
                    masked = value(step, raw)
                if masked is not _SAME:  # the wire form: length word + value, or the NULL word
                    pattern |= step[0]
                    append(message[last:pos])
                    append(masked)  # type: ignore[arg-type]
                    delta += len(masked) - 4 - size  # type: ignore[arg-type]
                    last = stop
            pos = stop
        if pos != end:
            raise RemoteProtocolError("DataRow values do not fill the message exactly")
        if not pattern:
            return message, 0
        append(message[last:])
        pieces[0] = _PACK_HEADER(b"D", end - 1 + delta, len(by_index))
        return b"".join(pieces), pattern

    def _fold(self) -> None:
        """Move the pattern tallies into the per-column counts (exact either way)."""
        counts = self._counts
        for pattern, rows in self._patterns.items():
            for n in range(len(counts)):
                if pattern >> n & 1:
                    counts[n] += rows
        self._patterns.clear()

    def provenance(self) -> list[MaskProvenance]:
        self._fold()
        counts = tuple(self._counts)
        known = self._compiled.provenance
        found = known.get(counts)
        if found is None:
            key_id = self._engine.key_id
            found = tuple(MaskProvenance(column=p.name, type=p.data_type,
                                         method=p.method if p.kind == "typed" else "scan",
                                         key_id=key_id, count=c, source=p.source)
                          for p, c in zip(self.plans, counts, strict=True))
            if len(known) >= _PROVENANCE_KEPT:
                known.clear()
            known[counts] = found
        return list(found)


class MaskPlanner:
    """Builds (and caches) the per-shape masking plan for a decision's mask map."""

    def __init__(self, engine: MaskEngine, scanner: Scanner | None = None,
                 column_tags: Mapping[str, str] | None = None, *, cache_size: int = 1024,
                 cache_bytes: int | None = None, row_cache: bool = True) -> None:
        """``cache_bytes`` bounds all value and row caches together (default: the engine's LRU size x
        ``BYTES_PER_ENTRY``, 16 MiB for 65536; 0 disables them); ``row_cache`` False keeps only the
        per-value caches (the benchmarks measure both)."""
        self.engine = engine
        self.scanner = scanner if scanner is not None else engine.scanner
        self.column_tags = dict(column_tags or {})
        self._cache: OrderedDict[tuple[object, ...], CompiledPlan | None] = OrderedDict()
        self._cache_size = cache_size
        self.budget = CacheBudget(engine.cache_size * BYTES_PER_ENTRY if cache_bytes is None else cache_bytes)
        self._row_cache = row_cache
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
        mask_items = tuple(sorted(mask_map.items()))
        if self._masks_nothing(mask_items, mask_map):
            return None
        key = (tuple([(c.name, c.type_oid, c.format, c.table, c.column) for c in columns]), mask_items,
               _lineage_key(lineage) if lineage is not None else ())
        found = self._cache.get(key, _MISS)
        if found is not _MISS:
            compiled = cast("CompiledPlan | None", found)
            self._cache.move_to_end(key)
        else:
            plans = tuple(p for i, c in enumerate(columns)
                          if (p := self._column(i, c, mask_map, lineage[i] if lineage and i < len(lineage)
                                                else None)) is not None)
            compiled = CompiledPlan(self.engine, plans, len(columns), mask_map, self.budget,
                                    row_cache=self._row_cache) if plans else None
            self._cache[key] = compiled
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if compiled is None:
            return None
        return PlannedRowMasker(self.engine, compiled.plans, len(columns), mask_map, compiled)

    def masks_nothing(self, mask_map: Mapping[str, str]) -> bool:
        """True when every type resolves to ``none`` (secrets included: they need ``secret: none``)."""
        return self._masks_nothing(tuple(sorted(mask_map.items())), mask_map)

    def _masks_nothing(self, key: tuple[tuple[str, str], ...], mask_map: Mapping[str, str]) -> bool:
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
