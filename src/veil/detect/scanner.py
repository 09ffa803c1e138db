"""The fast scanner: one multi-pattern RE2 pass rejects clean values, exact work only on candidates.

Every detector pattern goes into one ``re2.Set`` (a DFA over all patterns at once), so a
clean cell costs one linear pass and one Python call.  Only patterns the set reports are
then run individually for their spans, validated (checksums, provider formats) and
scored.  RE2 guarantees linear time on any input: no catastrophic backtracking.

Spans on short candidates come from Python's ``re`` compiled from the same pattern
(``re.ASCII``, so ``\\b``/``\\w`` mean what they mean in RE2): google-re2's Python wrapper
costs 5-35 us per ``search``/``finditer`` call, ``re`` under 1 us.  Patterns use only
bounded quantifiers, and ``re`` only ever sees candidates of at most ``FAST_LIMIT`` code
points; anything longer is matched by RE2, so the worst case stays linear.

Why RE2 and not Hyperscan: both are linear; Hyperscan's Python binding needs a
callback per match and a scratch space per thread, and its per-call overhead on short
cells measured higher here (see bench/RESULTS.md, ``## Detection``), while RE2 is
already a dependency and its ``Set`` is thread-safe after ``Compile``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import re2

from veil.detect.base import Detector, Pattern
from veil.detect.hints import NO_HINTS, NameHints, analyze_name
from veil.values import Finding

_CONTEXT_WINDOW = 48  # code points before a hit searched for context words
_CONTEXT_BOOST = 0.2
_HINT_BOOST = 0.3
_OTHER_HINT_PENALTY = 0.2  # a weak hit of type A in a column named for type B
_SKIP_CHECK_LIMIT = 32  # containment skip only while few findings exist (short cells: where it pays)
_GROUP = 8  # cells per group prefilter in scan_many (2% sensitive: ~85% of groups are clean)
FAST_LIMIT = 2048  # longer candidates are matched by RE2 only (linear-time guarantee)
_NEGATIVE_WINDOW = 12  # code points before a hit searched for words that veto it


@dataclass(frozen=True, slots=True)
class _Entry:
    detector: Detector
    pattern: Pattern
    regex: Any  # re2._Regexp (untyped): linear time on any length
    fast: re.Pattern[str]  # the same pattern for Python's re: fast on short candidates
    grouped: bool


def _options() -> Any:
    options = re2.Options()
    options.max_mem = 256 << 20  # the union DFA of ~200 patterns needs room to stay a DFA
    return options


class Scanner:
    """Compiled once (expensive), then thread-safe and reusable."""

    def __init__(self, detectors: Sequence[Detector], *, threshold: float = 0.5) -> None:
        self.detectors = tuple(detectors)
        self.threshold = threshold
        options = _options()
        self._set = re2.Set.SearchSet(options)
        entries: list[_Entry] = []
        for detector in self.detectors:
            for pattern in detector.patterns:
                index = self._set.Add(pattern.regex)
                if index != len(entries):  # pragma: no cover - RE2 numbers patterns in order
                    raise RuntimeError("RE2 set numbering is out of order")
                regex = re2.compile(pattern.regex, options)
                fast = re.compile(pattern.regex, re.ASCII)
                entries.append(_Entry(detector, pattern, regex, fast, regex.groups > 0))
        self._set.Compile()
        self._entries = tuple(entries)
        shapes: dict[tuple[str, str], list[Detector]] = {}
        for detector in self.detectors:
            for tag in sorted(detector.shapes):
                shapes.setdefault((detector.type, tag), []).append(detector)
        self._shapes = {key: tuple(value) for key, value in shapes.items()}
        self._context = {
            d.name: rx for d in self.detectors if (rx := _context_regex(tuple(w.lower() for w in d.context)))
        }

    @property
    def pattern_count(self) -> int:
        return len(self._entries)

    def has_candidates(self, text: str) -> bool:
        """Fast prefilter: False means no detector pattern occurs anywhere in ``text``."""
        return bool(text) and bool(self._set.Match(text))

    def scan_many(self, texts: Sequence[str | None], *, column: str | None = None) -> list[list[Finding]]:
        """``scan`` for many cells of one column at once (same results, cell by cell).

        Cells are prefiltered in small groups joined by newlines: one RE2 pass rejects a
        whole group of clean cells.  Every pattern's edges accept a newline, so a match
        inside a cell is also a match inside the group (the group test never misses); a
        match across the separator only costs a per-cell look.
        """
        hints = analyze_name(column) if column else NO_HINTS
        out: list[list[Finding]] = []
        step = _GROUP
        for i in range(0, len(texts), step):
            group = texts[i : i + step]
            if not hints.tags and not self._set.Match("\n".join(t for t in group if t)):
                out.extend([] for _ in group)
                continue
            out.extend(self.scan(t, column=column) if t else [] for t in group)
        return out

    def scan(self, text: str, *, column: str | None = None) -> list[Finding]:
        """Findings in ``text``: spans in code points, sorted by (start, end, type).

        ``column`` (a column name or JSON key path) adds name hints: it raises scores of
        the hinted types, enables shape checks of hint-only types over the whole cell,
        and vetoes weak detectors for names such as ``order_id``.
        """
        if not text:
            return []
        hints = analyze_name(column) if column else NO_HINTS
        hits = self._set.Match(text) or []
        if not hits and not hints.tags:
            return []
        candidates = self._score_all(self._matches(hits, text, hints), text, hints)
        if hints.tags:
            candidates = _absorb(candidates, self._shape_findings(text, hints, candidates))
        return _resolve(candidates, self.threshold)

    def _matches(self, hits: list[int], text: str, hints: NameHints) -> list[tuple[_Entry, Any]]:
        out: list[tuple[_Entry, Any]] = []
        short = len(text) <= FAST_LIMIT
        for index in sorted(hits):
            entry = self._entries[index]
            if hints.veto and entry.detector.weak:
                continue
            out.extend((entry, m) for m in (entry.fast if short else entry.regex).finditer(text))
        return out

    def _score_all(self, matches: list[tuple[_Entry, Any]], text: str, hints: NameHints) -> list[Finding]:
        """Validate and score hits, strongest patterns first.

        A hit inside an already validated finding that it could not beat in resolution is
        skipped before its (possibly costly) validation: the phone-shaped digit groups
        inside a card number or an IBAN never reach libphonenumber.
        """
        found: list[Finding] = []
        ranked = (
            range(1)
            if len(matches) == 1
            else sorted(range(len(matches)), key=lambda i: (-matches[i][0].pattern.score, i))
        )
        for i in ranked:
            entry, match = matches[i]
            start, end = match.span(1) if entry.grouped else match.span()
            if start < 0 or end <= start:
                continue
            finding = self._score(entry, text, start, end, hints, found)
            if finding is not None:
                found.append(finding)
        return found

    def _score(
        self, entry: _Entry, text: str, start: int, end: int, hints: NameHints, found: list[Finding]
    ) -> Finding | None:
        detector = entry.detector
        bonus = 0.0
        why = entry.pattern.label or "value"
        context = self._context.get(detector.name)
        if context is not None and _has_context(text, start, context):
            bonus += _CONTEXT_BOOST
            why += ", context"
        hinted = hints.confidence(detector.type) if hints.guesses else 0.0
        if hinted:
            bonus += _HINT_BOOST * hinted
            why = f"both: {why}"
        elif detector.weak and hints.guesses:
            bonus -= _OTHER_HINT_PENALTY
        best = min(entry.pattern.score + bonus, 1.0)  # validate never raises a pattern's score
        if len(found) <= _SKIP_CHECK_LIMIT and any(
            f.start <= start and end <= f.end and f.end - f.start > end - start and f.score >= best
            for f in found
        ):
            return None
        score = detector.validate(text[start:end], entry.pattern)
        if score is None:
            return None
        if detector.negative_context and _follows_word(text, start, detector.negative_context):
            return None
        return Finding(detector.type, start, end, round(min(score + bonus, 1.0), 3), detector.name, why)

    def _shape_findings(self, text: str, hints: NameHints, found: list[Finding]) -> list[Finding]:
        """Whole-cell findings for hint-only types (names, addresses, passwords...)."""
        stripped = text.strip()
        if not stripped:
            return []
        start = text.index(stripped[0])
        end = start + len(stripped)
        found = [f for f in found if f.score >= self.threshold]
        whole = {f.type for f in found if f.start <= start and f.end >= end}
        out: list[Finding] = []
        for (type_name, tag), guess in zip(hints.tags, hints.guesses, strict=True):
            if type_name in whole:
                continue
            for detector in self._shapes.get((type_name, tag), ()):
                if any(f.type == type_name and f.detector != detector.name for f in found):
                    break  # another detector found this type precisely (the password inside a URL)
                shape = detector.shape(stripped, tag)
                if shape is not None:
                    score = round(min(shape * guess.confidence + 0.05, 1.0), 3)
                    out.append(Finding(type_name, start, end, score, detector.name, f"name: {tag}"))
                    break
        return out


def _absorb(found: list[Finding], shaped: list[Finding]) -> list[Finding]:
    """A whole-cell finding replaces its own detector's partial hits ("diabetes" in a diagnosis)."""
    covered = {(f.type, f.detector) for f in shaped}
    return [f for f in found if (f.type, f.detector) not in covered] + shaped


def _follows_word(text: str, start: int, words: tuple[str, ...]) -> bool:
    """True when the hit comes right after one of ``words`` (a whole word, then spaces or ':=')."""
    tail = text[max(0, start - _NEGATIVE_WINDOW) : start].lower().rstrip(" :=#")
    for word in words:
        if tail.endswith(word) and (len(tail) == len(word) or not tail[-len(word) - 1].isalnum()):
            return True
    return False


def _context_regex(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Context words match at a word start ("sin" in "SIN: ..." but not in "since")."""
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")")


def _has_context(text: str, start: int, words: re.Pattern[str]) -> bool:
    return words.search(text[max(0, start - _CONTEXT_WINDOW) : start].lower()) is not None


def _resolve(candidates: list[Finding], threshold: float) -> list[Finding]:
    """Keep the best of overlapping findings (score, then length), deterministically."""
    if len(candidates) == 1:  # the common case in a column: one value, one finding
        return candidates if candidates[0].score >= threshold else []
    ranked = sorted(
        (f for f in candidates if f.score >= threshold),
        key=lambda f: (-f.score, f.start - f.end, f.start, f.type, f.detector),
    )
    # kept intervals never overlap, so sorted by start they are also sorted by end: a new one
    # overlaps a kept one only if it overlaps its neighbour on either side (n log n overall)
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Finding] = []
    for finding in ranked:
        i = bisect.bisect_right(starts, finding.start)
        if i > 0 and ends[i - 1] > finding.start:
            continue
        if i < len(starts) and starts[i] < finding.end:
            continue
        starts.insert(i, finding.start)
        ends.insert(i, finding.end)
        kept.insert(i, finding)
    return sorted(kept, key=lambda f: (f.start, f.end, f.type, f.detector))
