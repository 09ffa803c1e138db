import csv
import io
import json

import pytest
from click.testing import CliRunner

from veil.cli import cli
from veil.cli.keys import generate_keys

CONFIG = """
upstream:
  postgres: postgresql://x@127.0.0.1:1/app
keys:
  masking: file:./keys/masking.key
identity:
  users:
    - {name: agent, password: pw, groups: [bots], kind: agent}
    - {name: admin, password: pw, groups: [dba], kind: human}
    - {name: nobody, password: pw, groups: [], kind: human}
policies:
  - name: agents
    when: {kind: agent}
    access: read-only
    mask: {default: pseudonymize, credit_card: partial}
  - name: admins
    when: {groups: [dba]}
    access: read-write
    mask: {default: none, secret: none}
columns:
  public.customers.notes: health
"""

CSV_IN = (
    "id,email,card_number,comment,notes\n"
    "1,ana.lopez@acme-corp.com,4539 1488 0343 6467,call +1 415 555 0123 please,diabetes\n"
    "2,,,,\n"
    '3,bob@gmail.com,5555555555554444,"quoted, with comma, ssn 123-45-6789",ok\n'
)


@pytest.fixture
def config(tmp_path):
    generate_keys(tmp_path / "keys")
    path = tmp_path / "veil.yaml"
    path.write_text(CONFIG)
    return path


AGENT_CSV = ("--identity", "agent", "--format", "csv", "--table", "public.customers")


def run(config, *args, stdin=""):
    return CliRunner().invoke(cli, ["mask", "-c", str(config), *args], input=stdin)


def test_csv_is_masked_per_policy_and_deterministic(config):
    result = run(config, *AGENT_CSV, stdin=CSV_IN)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["id", "email", "card_number", "comment", "notes"]
    assert rows[1][0] == "1" and "@" in rows[1][1] and "lopez" not in rows[1][1]
    assert rows[1][2] == "4539 14** **** 6467"  # credit_card: partial
    assert rows[1][3].startswith("call +1 ") and "555 0123" not in rows[1][3]
    assert rows[1][4] != "diabetes"  # tagged health via --table
    assert rows[2] == ["2", "", "", "", ""]
    assert "6789" not in rows[3][3] and rows[3][1].endswith("@gmail.com")
    again = run(config, *AGENT_CSV, stdin=CSV_IN)
    assert again.stdout == result.stdout


def test_jsonl_keeps_structure(config, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"user": {"email": "ana@acme.org", "ssn": "123-45-6789"}, "n": 3}) + "\n\n")
    out = tmp_path / "out.jsonl"
    result = run(config, "--identity", "agent", "-i", str(src), "-o", str(out))
    assert result.exit_code == 0, result.output
    [line] = out.read_text().splitlines()
    doc = json.loads(line)
    assert set(doc) == {"user", "n"} and doc["n"] == 3
    assert doc["user"]["email"] != "ana@acme.org" and "6789" not in doc["user"]["ssn"]


def test_unmasked_identity_and_refusals(config):
    result = run(config, "--identity", "admin", stdin=CSV_IN)
    assert result.exit_code == 0
    assert list(csv.reader(io.StringIO(result.stdout))) == list(csv.reader(io.StringIO(CSV_IN)))
    denied = run(config, "--identity", "nobody", stdin=CSV_IN)
    assert denied.exit_code != 0 and denied.stdout == ""
