"""``veil scan`` against a fresh real database, and ``veil detect`` as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
from faker import Faker

_SCHEMA = """
CREATE TABLE customers (id integer PRIMARY KEY, full_name text, email text, phone text,
                        created_at timestamptz, status text, notes text, ip inet, card text);
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (invoice_no text, amount numeric, iban text, api_key text);
"""


def _seed(dsn: str) -> None:
    fake = Faker("en_US")
    fake.seed_instance(11)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_SCHEMA)
        for i in range(60):
            conn.execute(
                "INSERT INTO customers VALUES (%s, %s, %s, %s, now(), %s, %s, %s, %s)",
                (
                    i,
                    fake.name(),
                    fake.email(),
                    fake.numerify("+1 415 555 ####"),
                    "active",
                    f"Called twice about order {i}, wants a callback at {fake.email()} soon please",
                    fake.ipv4(),
                    fake.credit_card_number("visa16"),
                ),
            )
            conn.execute(
                "INSERT INTO billing.invoices VALUES (%s, %s, %s, %s)",
                (f"INV-{i:06d}", i * 10, fake.iban(), "sk_live_" + fake.pystr(min_chars=24, max_chars=24)),
            )


def _veil(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veil", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_scan_json_classifies_columns(pg_dsn: str) -> None:
    _seed(pg_dsn)
    proc = _veil("scan", pg_dsn, "--sample", "50", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    by_name = {f"{c['table']}.{c['column']}": c for c in report["columns"]}
    primary = {k: (c["types"][0]["type"] if c["types"] else None) for k, c in by_name.items()}
    assert primary["public.customers.full_name"] == "person_name"
    assert primary["public.customers.email"] == "email"
    assert primary["public.customers.phone"] == "phone"
    assert primary["public.customers.ip"] == "ip_address"
    assert primary["public.customers.card"] == "credit_card"
    assert primary["billing.invoices.iban"] == "iban"
    assert primary["billing.invoices.api_key"] == "secret"
    for clean in ("id", "created_at", "status"):
        assert primary[f"public.customers.{clean}"] is None
    assert primary["billing.invoices.invoice_no"] is None
    assert by_name["public.customers.notes"]["free_text"] is True
    assert by_name["public.customers.email"]["sampled"] == 50
    assert report["suggested_columns"]["public.customers.email"] == "email"
    assert "public.customers.notes" not in report["suggested_columns"]
    # sampled values never appear in the output
    with psycopg.connect(pg_dsn) as conn:
        some_email = conn.execute("SELECT email FROM customers LIMIT 1").fetchone()[0]  # type: ignore[index]
    assert some_email not in proc.stdout


def test_scan_table_format_suggests_columns_block(pg_dsn: str) -> None:
    _seed(pg_dsn)
    proc = _veil("scan", pg_dsn, "--sample", "20")
    assert proc.returncode == 0, proc.stderr
    assert "public.customers.email" in proc.stdout
    assert "columns:\n" in proc.stdout and "  public.customers.email: email" in proc.stdout


def test_scan_unreachable_database_exits_1(pg_dsn: str) -> None:
    bad = pg_dsn.replace("dbname=", "dbname=nope_") if "dbname=" in pg_dsn else pg_dsn + "_nope"
    proc = _veil("scan", bad, "--format", "json")
    assert proc.returncode == 1
    assert "scan: OperationalError" in proc.stderr


def test_detect_json_lines() -> None:
    lines = "\n".join(
        [
            json.dumps({"value": "mail jane@example.com"}),
            json.dumps({"value": "Jane Doe", "column": "customer_name"}),
            json.dumps({"value": "Grüße 🙂 an jürgen@example.de"}),
            "not json",
            json.dumps({"value": None}),
        ]
    )
    proc = _veil("detect", stdin=lines + "\n")
    assert proc.returncode == 1  # one malformed line
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 5
    assert out[0] == {
        "findings": [{"type": "email", "start": 5, "end": 21, "score": out[0]["findings"][0]["score"]}]
    }
    assert out[1]["findings"][0]["type"] == "person_name"
    assert (out[2]["findings"][0]["start"], out[2]["findings"][0]["end"]) == (11, 28)
    assert out[3]["findings"] == [] and "error" in out[3]
    assert out[4] == {"findings": []}
    assert "jane" not in proc.stderr


def test_detect_column_option() -> None:
    proc = _veil("detect", "--column", "ssn", stdin=json.dumps({"value": "536904399"}) + "\n")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["findings"][0]["type"] == "us_ssn"
