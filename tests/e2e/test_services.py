import psycopg


def test_fresh_database_is_empty_and_ours(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        n = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert n == (0,)
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("veil_t_")  # type: ignore[index]
