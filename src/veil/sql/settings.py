"""What a statement does to session settings, and whether that undoes read-only.

A read-only identity's upstream session starts with ``default_transaction_read_only
= on``; the server then refuses writes even if the parser missed one.  That only
holds while nobody turns it off, so every way of changing it is recognised here:
``SET``/``RESET``/``SET ... TO DEFAULT``, ``SET TRANSACTION READ WRITE``, ``SET
SESSION CHARACTERISTICS AS TRANSACTION READ WRITE``, ``BEGIN``/``START TRANSACTION
READ WRITE`` and ``set_config(...)``.  Setting them *on* is always fine.

``RESET ALL`` and ``DISCARD ALL`` are allowed: they return settings to the values the
session started with, and veil passes ``default_transaction_read_only`` as a startup
parameter, which is exactly that value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pglast import ast
from pglast.enums import VariableSetKind

from veil.sql.functions import PROTECTED_SETTINGS, READ_ONLY_SWITCHES
from veil.sql.nodes import const_value, is_constant, truthy

# SET TRANSACTION / SESSION CHARACTERISTICS / BEGIN spell read-only as this DefElem.
_TXN_READ_ONLY = "transaction_read_only"
_MULTI_TARGETS = {"TRANSACTION": "transaction_read_only",
                  "SESSION CHARACTERISTICS": "default_transaction_read_only"}

Setting = tuple[str, str | None]
COMPUTED = "<computed>"


def protected_change(name: str, value: Any, *, reset: bool = False) -> str | None:
    """The refusal reason if setting ``name`` to ``value`` (or resetting it) is not allowed."""
    name = name.lower()
    if name not in PROTECTED_SETTINGS:
        return None
    if name == "search_path" and (reset or default_search_path(value)):
        return None  # what table rules assume anyway; clients such as DBeaver set it on connect
    if reset:
        return f"RESET of {name} is not allowed for read-only access"
    if name in READ_ONLY_SWITCHES and truthy(value) is True:
        return None
    if name in READ_ONLY_SWITCHES:
        return f"turning off {name} is not allowed for read-only access"
    return f"changing {name} is not allowed for read-only access"


_DEFAULT_PATHS = {("public",), ("$user", "public"), ("pg_catalog", "public"),
                  ("pg_catalog", "$user", "public")}


def default_search_path(value: Any) -> bool:
    """Whether a search_path value resolves unqualified names as the default path does."""
    if value is None or value == COMPUTED:
        return False
    parts = tuple(p.strip().strip('"').strip().lower() for p in str(value).split(","))
    return parts in _DEFAULT_PATHS


def _value_text(args: Sequence[Any] | None) -> str | None:
    if not args:
        return None
    values = [const_value(a) for a in args]
    if any(v is None for v in values):
        return None
    return ", ".join(str(v) for v in values)


def variable_set(stmt: ast.VariableSetStmt) -> tuple[list[Setting], list[str]]:
    """Settings changed by a SET/RESET statement and the read-only refusal reasons."""
    kind = stmt.kind
    if kind == VariableSetKind.VAR_RESET_ALL:
        return [("all", None)], []
    if kind == VariableSetKind.VAR_SET_MULTI:
        return _set_multi(stmt)
    name = (stmt.name or "").lower()
    if kind in (VariableSetKind.VAR_SET_DEFAULT, VariableSetKind.VAR_RESET):
        reason = protected_change(name, None, reset=True)
        return [(name, None)], [reason] if reason else []
    if kind == VariableSetKind.VAR_SET_CURRENT:  # SET x FROM CURRENT: value unknown to us
        reason = protected_change(name, None)
        return [(name, None)], [reason] if reason else []
    value = _value_text(stmt.args)
    reason = protected_change(name, value if value is not None else "")
    return [(name, value)], [reason] if reason else []


def _set_multi(stmt: ast.VariableSetStmt) -> tuple[list[Setting], list[str]]:
    target = _MULTI_TARGETS.get(stmt.name or "")
    settings: list[Setting] = []
    reasons: list[str] = []
    for item in stmt.args or ():
        if not isinstance(item, ast.DefElem):
            continue
        setting = target if (item.defname == _TXN_READ_ONLY and target) else str(item.defname)
        value = const_value(item.arg)
        settings.append((setting, None if value is None else str(value)))
        if item.defname == _TXN_READ_ONLY and truthy(value) is not True:
            reasons.append(f"{stmt.name} READ WRITE is not allowed for read-only access")
    return settings, reasons


def transaction_options(options: Sequence[Any] | None) -> list[str]:
    """Reasons for ``BEGIN``/``START TRANSACTION`` options that undo read-only."""
    reasons = []
    for item in options or ():
        read_only = isinstance(item, ast.DefElem) and item.defname == _TXN_READ_ONLY
        if read_only and truthy(const_value(item.arg)) is not True:
            reasons.append("BEGIN READ WRITE is not allowed for read-only access")
    return reasons


def set_config_call(call: ast.FuncCall) -> tuple[Setting | None, str | None]:
    """The setting a ``set_config(name, value, is_local)`` call changes and a refusal reason.

    A name that is not a literal could be anything, so it is refused for read-only
    access; a value that is not a literal is refused for protected settings.
    """
    args = list(call.args or ())
    if not args or not is_constant(args[0]):
        return None, "set_config with a computed setting name is not allowed for read-only access"
    name = str(const_value(args[0])).lower()
    value = const_value(args[1]) if len(args) > 1 and is_constant(args[1]) else None
    if value is None and name in PROTECTED_SETTINGS:
        return (name, None), f"changing {name} is not allowed for read-only access"
    # a computed value is recorded as COMPUTED (not None, which means "reset"), so limits fail closed
    return (name, COMPUTED if value is None else str(value)), protected_change(name, value)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}


def duration_ms(value: str | None) -> float | None:
    """A time setting's value in milliseconds (PostgreSQL's units; no unit = ms); None if unreadable."""
    if value is None:
        return None
    text = value.strip().strip("'").strip().lower()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz").strip()
    unit = text[len(number):].strip() or "ms"
    try:
        return float(number) * _UNITS_MS[unit]
    except (ValueError, KeyError):
        return None


def policy_escapes(settings: Sequence[Setting], *, timeout_ms: int | None,
                   tables_restricted: bool) -> str | None:
    """Why a setting change would escape what a policy enforces, or None.

    * ``statement_timeout``: the policy's limit is a ceiling; 0 (no limit), a longer
      or an unreadable value is refused (RESET returns to the session's start value,
      which is the policy's, and is fine).
    * ``search_path``: table rules resolve unqualified names against the default path,
      so under table rules a changed path would make ``secret`` mean another table.
    """
    for name, value in settings:
        if name == "statement_timeout" and timeout_ms is not None and value is not None:
            wanted = duration_ms(value)
            if wanted is None or wanted <= 0 or wanted > timeout_ms:
                return f"statement_timeout may not exceed the policy's {timeout_ms} ms"
        moved = value is not None and not default_search_path(value)  # None: RESET, back to the default
        if name == "search_path" and tables_restricted and moved:
            return "changing search_path is not allowed while table rules apply"
    return None
