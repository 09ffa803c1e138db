"""The built-in list of functions a read-only identity may not call, and the settings it may not change.

Why a list at all when the upstream session is read-only anyway: many of these
work fine inside a read-only transaction (reading server files, large objects,
signalling other backends, advisory locks, ``dblink`` opening a second, writable
connection, functions that run a SQL *string* veil never sees).  Policies extend
the list with ``deny_functions``; the same glob syntax applies there.

Names are compared lower-case, on the bare function name (``pg_catalog.lo_import``,
``ext.dblink`` and ``dblink`` are all the same entry): an extension installed in
another schema must not slip past the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

DANGEROUS_FUNCTIONS: tuple[str, ...] = (
    # server file system and configuration files
    "pg_read_file*", "pg_read_binary_file*", "pg_stat_file", "pg_ls_*dir", "pg_ls_dir",
    "pg_file_*", "pg_logdir_ls", "pg_hba_file_rules", "pg_ident_file_mappings", "pg_show_all_file_settings",
    # large objects (import/export server files, write storage)
    "lo_*", "loread", "lowrite",
    # a second connection that is not read-only
    "dblink*",
    # other backends and the server itself
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile*",
    "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_backup_*", "pg_start_backup",
    "pg_stop_backup", "pg_log_backend_memory_contexts", "pg_stat_reset*", "pg_wal_replay_*",
    "pg_create_*_replication_slot", "pg_drop_replication_slot", "pg_replication_slot_advance",
    "pg_copy_*_replication_slot", "pg_logical_emit_message", "pg_import_system_collations",
    "pg_notify", "pg_signal_*", "pg_log_standby_snapshot", "pg_sync_replication_slots",
    # consuming a logical slot's changes is destructive; replication origins are server state
    "pg_logical_slot_*", "pg_replication_origin_*",
    # index and statistics maintenance, catalog surgery
    "brin_summarize_*", "brin_desummarize_range", "gin_clean_pending_list", "pg_restore_*_stats",
    "pg_clear_*_stats", "binary_upgrade_*", "pg_nextoid", "pg_stop_making_pinned_objects",
    # sequences advance even in a read-only transaction's eyes
    "nextval", "setval",
    # advisory locks: a read-only client could block writers indefinitely
    "pg_advisory_*", "pg_try_advisory_*",
    # run a SQL string the parser never sees (bypasses table rules and lineage)
    "query_to_xml*", "table_to_xml*", "cursor_to_xml*", "schema_to_xml*", "database_to_xml*",
    "ts_stat", "ts_rewrite",
)

# Settings whose change would undo what veil enforces for a read-only identity.
# ``search_path`` is here because table rules resolve unqualified names against the
# default path: changing it would make ``secret`` mean ``other_schema.secret``.
PROTECTED_SETTINGS: frozenset[str] = frozenset({
    "default_transaction_read_only",
    "transaction_read_only",
    "session_authorization",
    "role",
    "search_path",
    "session_replication_role",
})

# Of those, the ones that may be set to "on" (tightening is always fine).
READ_ONLY_SWITCHES: frozenset[str] = frozenset({"default_transaction_read_only", "transaction_read_only"})


def bare_name(name: str) -> str:
    """``schema.fn`` -> ``fn``, lower-case."""
    return name.rsplit(".", 1)[-1].lower()


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether a function name matches any glob in ``patterns`` (bare or qualified)."""
    lowered = name.lower()
    bare = bare_name(name)
    for pattern in patterns:
        p = pattern.lower()
        target = lowered if "." in p else bare
        if fnmatchcase(target, p):
            return True
    return False


def is_dangerous(name: str) -> bool:
    """Whether ``name`` is on the built-in list (see the module docstring)."""
    return matches(name, DANGEROUS_FUNCTIONS)


def denied(functions: Iterable[str], extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The functions (sorted) that the built-in list or ``extra`` globs deny."""
    patterns = (*DANGEROUS_FUNCTIONS, *extra)
    return tuple(sorted(f for f in functions if matches(f, patterns)))
