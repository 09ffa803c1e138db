"""Statements veil answers itself: ``SET``/``RESET``/``SHOW veil.reason``.

``veil.*`` settings never reach the database (INTERFACE.md), so these are recognised
on the way in and answered with the messages PostgreSQL would have sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from veil.wire.pg import messages as m

MAX_REASON_LENGTH = 500

_SET = re.compile(
    r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?veil\.reason\s*(?:=|\s+TO\s+)\s*(?P<value>.*?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL)
_RESET = re.compile(r"^\s*RESET\s+veil\.reason\s*;?\s*$", re.IGNORECASE)
_SHOW = re.compile(r"^\s*SHOW\s+veil\.reason\s*;?\s*$", re.IGNORECASE)
# a veil.* setting changed inside a larger statement (multi-statement Query, set_config):
# it would reach the database and bypass veil's own handling, so such statements are refused
_SMUGGLED = re.compile(r"\b(?:SET|RESET)\s+(?:SESSION\s+|LOCAL\s+)?veil\.|\bset_config\s*\(\s*'veil\.",
                       re.IGNORECASE)
_QUOTED = re.compile(r"^'((?:[^']|'')*)'$", re.DOTALL)
_BARE = re.compile(r"^[A-Za-z0-9_.:\-]+$")


@dataclass(frozen=True, slots=True)
class LocalCommand:
    """A recognised veil-only statement: ``action`` is set, reset or show."""

    action: str
    value: str | None = None

    @property
    def tag(self) -> str:
        return {"set": "SET", "reset": "RESET", "show": "SHOW"}[self.action]


def parse_local(sql: str) -> LocalCommand | None:
    """The LocalCommand for ``sql``, or None when it is an ordinary statement."""
    head = sql[:64].lstrip()[:5].upper()  # a prefix only: no copy of a long statement
    if head not in ("SET V", "SET S", "SET L", "RESET", "SHOW ") or "veil.reason" not in sql.lower():
        return None
    if _RESET.match(sql):
        return LocalCommand("reset")
    if _SHOW.match(sql):
        return LocalCommand("show")
    match = _SET.match(sql)
    if match is None:
        return None
    raw = match.group("value")
    quoted = _QUOTED.match(raw)
    if quoted:
        value = quoted.group(1).replace("''", "'")
    elif _BARE.match(raw):
        value = raw
    elif raw.upper() == "DEFAULT":
        return LocalCommand("reset")
    else:
        return None
    value = re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()[:MAX_REASON_LENGTH]
    return LocalCommand("set", value or None)


def smuggles_veil_setting(sql: str) -> bool:
    """True when ``sql`` (not a lone veil command) changes a ``veil.*`` setting."""
    return _SMUGGLED.search(sql) is not None


def show_description() -> m.RowDescription:
    return m.RowDescription((m.FieldDescription("veil.reason", type_oid=25),))


def show_row(reason: str | None) -> m.DataRow:
    return m.DataRow(((reason or "").encode(),))
