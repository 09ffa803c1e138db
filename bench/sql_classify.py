"""SQL analysis throughput: statements/s of classification with and without the cache, and lineage.

``python -m bench.sql_classify [--seconds 1.0]``

Every request pays for ``analyze`` (cached by exact text); reads additionally pay for
``lineage`` + ``predicates`` in the authorizer (columns read, inference guard).  The
corpus mixes the statement shapes clients send: ORM-style selects with joins and
CTEs, DML, SET, transaction control, catalog queries.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench import machine, write_section
from veil.config import parse_config
from veil.pipeline.authorize import Authorizer
from veil.pipeline.hooks import Request, Session
from veil.policy import PolicySet
from veil.sql import Analyzer, InMemoryCatalog, analyze_uncached, lineage, normalize, predicates
from veil.values import Identity

CATALOG = InMemoryCatalog(tables={
    "public.customers": ["id", "name", "email", "ssn", "created_at"],
    "public.orders": ["id", "customer_id", "total", "note", "created_at"],
    "public.v_contacts": ["id", "mail"],
}, views={"public.v_contacts": "select id, lower(email) from customers"})

CORPUS = [
    "SELECT id, name, email FROM customers WHERE id = $1",
    "SELECT c.id, upper(c.email), count(o.id), sum(o.total) FROM customers c LEFT JOIN orders o "
    "ON o.customer_id = c.id WHERE c.created_at > now() - interval '30 days' GROUP BY 1, 2 "
    "ORDER BY 3 DESC LIMIT 50",
    "WITH recent AS (SELECT * FROM orders WHERE created_at > $1) SELECT r.id, c.name FROM recent r "
    "JOIN customers c ON c.id = r.customer_id",
    "SELECT * FROM v_contacts WHERE mail = 'a@example.com'",
    "SELECT row_to_json(c) FROM customers c WHERE id IN (SELECT customer_id FROM orders WHERE total > 100)",
    "INSERT INTO orders (customer_id, total, note) VALUES ($1, $2, $3) RETURNING id",
    "UPDATE customers SET name = $1 WHERE id = $2",
    "SET application_name = 'psql'",
    "BEGIN",
    "COMMIT",
    "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v') AND n.nspname <> 'pg_catalog' ORDER BY 1, 2",
    "SELECT set_config('search_path', '', false)",
]
READS = [s for s in CORPUS if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def rate(fn: Callable[[str], object], statements: list[str], seconds: float) -> float:
    """Statements per second of ``fn`` over ``statements``, repeated for about ``seconds``."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for sql in statements:
            fn(sql)
        done += len(statements)
    return done / (time.perf_counter() - start)


def authorizer() -> Callable[[str], object]:
    """``Authorizer.authorize`` with a real read-only PolicySet, as the proxy calls it per request."""
    settings = parse_config("""
upstream: {postgres: "postgresql://u@127.0.0.1:5432/db"}
identity: {users: [{name: alice, password: x}]}
policies:
  - {name: readers, when: {identities: [alice]}, access: read-write, mask: {default: pseudonymize}}
""")
    auth = Authorizer(PolicySet.from_settings(settings), catalog=CATALOG)
    session = Session(Identity("alice"))
    return lambda sql: auth.authorize(Request(session, sql))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    args = parser.parse_args(argv)

    cached = Analyzer()
    for sql in CORPUS:
        cached.analyze(sql)
    rows = [
        ("analyze, no cache", rate(analyze_uncached, CORPUS, args.seconds)),
        ("analyze, cache hit (exact text)", rate(cached.analyze, CORPUS, args.seconds)),
        ("normalize only", rate(normalize, CORPUS, args.seconds)),
        ("lineage + predicates (reads only)",
         rate(lambda s: (lineage(s, CATALOG), predicates(s, CATALOG)), READS, args.seconds)),
        ("Authorizer.authorize, warm caches", rate(authorizer(), CORPUS, args.seconds)),
    ]
    table = ["| measurement | statements/s | µs/statement |", "|---|---:|---:|"]
    for name, per_second in rows:
        table.append(f"| {name} | {per_second:,.0f} | {1e6 / per_second:,.1f} |")
        print(f"{name:40s} {per_second:12,.0f}/s {1e6 / per_second:8.1f} µs")
    body = "\n".join([
        f"Measured on {machine()}; {args.seconds:g} s per row, corpus of {len(CORPUS)} statements "
        f"({len(READS)} reads). Shared, noisy machine: compare rows, not runs.",
        "",
        *table,
        "",
        "The cache is keyed by exact SQL text (not pglast's fingerprint, which ignores constants that decide "
        "read-only verdicts such as `BEGIN READ WRITE`). The authorizer also caches lineage and predicates "
        "by text, per catalog. The last row is what a proxied request pays for authorization (analysis, "
        "policy rules, inference guard) once its text has been seen.",
        "",
        "Reproduce: `.venv/bin/python -m bench.sql_classify --seconds 1`",
    ])
    write_section("SQL analysis", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
