"""The dangerous-function list and policy globs match the way PostgreSQL resolves names."""

from __future__ import annotations

import pytest

from veil.sql.functions import denied, is_dangerous, matches


@pytest.mark.parametrize("name", [
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_ls_logdir", "pg_stat_file", "lo_import",
    "lo_export", "lo_unlink", "loread", "dblink", "dblink_exec", "ext.dblink_connect", "pg_terminate_backend",
    "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "nextval", "setval", "pg_advisory_lock",
    "pg_advisory_xact_lock_shared", "pg_try_advisory_lock", "query_to_xml", "PG_READ_FILE", "pg_notify",
    "pg_read_file_old", "pg_logical_slot_get_changes", "pg_replication_origin_create", "brin_summarize_range",
    "pg_hba_file_rules", "binary_upgrade_set_next_pg_type_oid", "pg_restore_relation_stats",
])
def test_dangerous(name: str) -> None:
    assert is_dangerous(name)


@pytest.mark.parametrize("name", ["upper", "count", "pg_sleep", "current_setting", "lower", "my.lookup",
                                  "pg_size_pretty", "set_config"])
def test_not_dangerous(name: str) -> None:
    assert not is_dangerous(name)


def test_policy_globs_bare_and_qualified() -> None:
    assert matches("pg_sleep", ["pg_sleep"])
    assert matches("public.slow_fn", ["slow_*"])
    assert matches("public.slow_fn", ["public.*"])
    assert not matches("other.slow_fn", ["public.*"])
    assert denied({"upper", "pg_sleep", "lo_get"}, ["pg_sleep"]) == ("lo_get", "pg_sleep")
