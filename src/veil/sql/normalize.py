"""Literal-free SQL for the audit trail, statement fingerprints, and the reason comment.

``pglast.normalize`` replaces the constants PostgreSQL's query jumbling knows about,
but not all literals (``COPY t TO '/path'``, ``PREPARE p AS SELECT 1``) and it keeps
comments, which may hold anything a user typed.  So its output is scrubbed again
at the token level: every remaining literal becomes the next ``$n``, comments go.
Text the parser rejects is scrubbed by the scanner alone; text even the scanner
rejects (an unterminated quote) becomes ``<unparseable>``.  The audit trail must
never hold a literal, so ``normalize`` never raises and never falls back to raw text.
"""

from __future__ import annotations

import hashlib
import re

import pglast
from pglast.parser import ParseError

UNPARSEABLE = "<unparseable>"
_LITERALS = frozenset({"SCONST", "USCONST", "ICONST", "FCONST", "BCONST", "XCONST"})
_COMMENTS = frozenset({"C_COMMENT", "SQL_COMMENT"})
_REASON = re.compile(r"\A\s*/\*\s*veil\.reason\s*[:=]\s*(?P<reason>.*?)\s*\*/", re.DOTALL)
MAX_REASON_LENGTH = 500


def normalize(sql: str) -> str:
    """``sql`` with every literal replaced by ``$n`` and comments removed; never raises."""
    try:
        text = pglast.normalize(sql)
    except ParseError:
        text = sql
    except Exception:  # pglast raises a few other types on odd input; the trail must still get text
        text = sql
    return _scrub(text)


def _scrub(text: str) -> str:
    try:
        tokens = pglast.scan(text)
    except Exception:
        return UNPARSEABLE
    next_param = 1 + max((_param_number(text[t.start:t.end + 1]) for t in tokens if t.name == "PARAM"),
                         default=0)
    out: list[str] = []
    pos = 0
    for token in tokens:
        if token.name in _LITERALS:
            out.append(text[pos:token.start])
            out.append(f"${next_param}")
            next_param += 1
            pos = token.end + 1
        elif token.name in _COMMENTS:
            out.append(text[pos:token.start].rstrip(" \t"))
            pos = token.end + 1
    out.append(text[pos:])
    return "".join(out).strip()


def _param_number(text: str) -> int:
    try:
        return int(text.lstrip("$"))
    except ValueError:
        return 0


def fingerprint(sql: str) -> str:
    """PostgreSQL's query fingerprint (same shape, different constants -> same value).

    Never raises: text the parser rejects gets a hash of its scrubbed form, so two
    identical bad statements still group together without the trail holding literals.
    Not safe as a cache key for *decisions*: ``BEGIN READ ONLY`` and ``BEGIN READ
    WRITE`` share a fingerprint (see classify).
    """
    try:
        return str(pglast.fingerprint(sql))
    except Exception:
        return "x" + hashlib.sha256(_scrub(sql).encode()).hexdigest()[:15]


def strip_reason_comment(sql: str) -> tuple[str | None, str]:
    """A leading ``/* veil.reason: ... */`` -> ``(reason, sql without it)``.

    Only a comment at the very start counts, so a reason cannot be smuggled in from
    the middle of a statement.  A reason containing ``/*`` is not accepted: PostgreSQL
    nests block comments, so the comment would not end where this one seems to.
    Reasons are capped at ``MAX_REASON_LENGTH`` characters and control characters
    become spaces, so the audit trail stays one clean field.
    """
    match = _REASON.match(sql)
    if match is None:
        return None, sql
    reason = match.group("reason")
    if "/*" in reason:
        return None, sql
    reason = re.sub(r"[\x00-\x1f\x7f]+", " ", reason).strip()[:MAX_REASON_LENGTH]
    return (reason or None), sql[match.end():].lstrip()
