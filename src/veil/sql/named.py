"""Per-session memory of SQL-level prepared statements and cursors.

``EXECUTE q`` and ``FETCH FROM c`` carry no query of their own: what they read, and
what their rows derive from, is whatever ``PREPARE q`` / ``DECLARE c`` said earlier
in the same session.  Without this memory a read-only identity could not run a
prepared read at all, and ``DECLARE c CURSOR FOR SELECT substr(ssn, 1, 3) ...`` then
``FETCH ALL FROM c`` would return rows with no lineage, i.e. masked by content
detection alone - which cannot see that "123" is part of an SSN.

Bounded (sessions x names) and thread-safe; only *allowed* statements are recorded,
so a refused ``PREPARE w AS DELETE ...`` never becomes something ``EXECUTE`` can use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from threading import Lock

from veil.sql.classify import NamedStatement, statement_names
from veil.values import StatementInfo

# StatementInfo.command of the statements that create or drop named statements or cursors
_CHANGING_COMMANDS = frozenset({"PREPARE", "DEALLOCATE", "DECLARE CURSOR", "CLOSE", "DISCARD"})


@dataclass
class _Session:
    # name -> (info, PREPARE text)
    prepared: dict[str, tuple[StatementInfo, str]] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)  # name -> DECLARE text


class NamedStatements:
    """What each session's ``EXECUTE``/``FETCH`` refer to."""

    def __init__(self, *, max_sessions: int = 10_000, max_names: int = 1_000) -> None:
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._max_sessions = max_sessions
        self._max_names = max_names
        self._lock = Lock()

    @staticmethod
    def involved(infos: Sequence[StatementInfo]) -> bool:
        """Whether any statement creates, uses or drops a named statement or cursor."""
        return any(i.command in ("EXECUTE", "FETCH", "PREPARE", "DEALLOCATE", "DECLARE CURSOR", "CLOSE",
                                 "DISCARD") for i in infos)

    def resolve(self, session_id: str, sql: str,
                infos: tuple[StatementInfo, ...]) -> tuple[StatementInfo, ...]:
        """``infos`` with each ``EXECUTE`` of a known prepared statement replaced by what it runs."""
        names = statement_names(sql)
        with self._lock:
            known = dict(self._sessions[session_id].prepared) if session_id in self._sessions else {}
        out = []
        for info, named in zip(infos, names, strict=False):
            if named.command == "EXECUTE" and named.name in known:
                prepared, _ = known[named.name]
                out.append(replace(prepared, command="EXECUTE", normalized=info.normalized,
                                   fingerprint=info.fingerprint))
            else:
                out.append(info)
        out.extend(infos[len(out):])
        return tuple(out)

    def sources(self, session_id: str, sql: str) -> list[str]:
        """Per statement, the SQL whose lineage describes its rows (the PREPARE/DECLARE for EXECUTE/FETCH).

        An ``EXECUTE``/``FETCH`` of an unknown name keeps its own text, whose lineage
        is empty: the masking plan then falls back to names and values.
        """
        names = statement_names(sql)
        with self._lock:
            state = self._sessions.get(session_id)
            prepared = {k: v[1] for k, v in state.prepared.items()} if state else {}
            cursors = dict(state.cursors) if state else {}
        out = []
        for named in names:
            if named.command == "EXECUTE" and named.name in prepared:
                out.append(prepared[named.name])
            elif named.command == "FETCH" and named.name in cursors:
                out.append(cursors[named.name])
            else:
                out.append(named.text)
        return out

    def observe(self, session_id: str, sql: str, infos: Sequence[StatementInfo]) -> None:
        """Record an *allowed* request's PREPARE/DECLARE and forget what it drops."""
        if not any(i.command in _CHANGING_COMMANDS for i in infos):
            return  # the common case, decided without parsing again
        names = statement_names(sql)
        with self._lock:
            state = self._sessions.setdefault(session_id, _Session())
            self._sessions.move_to_end(session_id)
            for info, named in zip(infos, names, strict=False):
                self._apply(state, info, named)
            for table in (state.prepared, state.cursors):
                while len(table) > self._max_names:
                    table.pop(next(iter(table)))
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)

    @staticmethod
    def _apply(state: _Session, info: StatementInfo, named: NamedStatement) -> None:
        if named.command == "PREPARE" and named.name is not None:
            state.prepared[named.name] = (info, named.text)
        elif named.command == "DECLARE" and named.name is not None:
            state.cursors[named.name] = named.text
        elif named.command == "DEALLOCATE":
            state.prepared.clear() if named.name is None else state.prepared.pop(named.name, None)
        elif named.command == "CLOSE":
            state.cursors.clear() if named.name is None else state.cursors.pop(named.name, None)
        elif named.command == "DISCARD":
            state.prepared.clear()
            state.cursors.clear()

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
