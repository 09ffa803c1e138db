import json

import pytest
from click.testing import CliRunner

from veil.cli import cli
from veil.cli.keys import generate_keys
from veil.mask.engine import MaskEngine
from veil.mask.keys import Keyring

CONFIG = """
upstream:
  postgres: postgresql://x@127.0.0.1:1/app
keys:
  masking: file:./keys/masking.key
  audit_signing: file:./keys/audit.key
identity:
  users:
    - {name: dpo, password: pw, groups: [privacy], kind: human}
    - {name: analyst, password: pw, groups: [analysts], kind: human}
policies:
  - name: privacy-office
    when: {groups: [privacy]}
    access: read-only
    allow_unmask: true
  - name: analysts
    when: {groups: [analysts]}
    access: read-only
audit:
  store: sqlite:///./audit.db
"""


@pytest.fixture
def setup(tmp_path):
    generate_keys(tmp_path / "keys")
    path = tmp_path / "veil.yaml"
    path.write_text(CONFIG)
    engine = MaskEngine(Keyring.load(tmp_path / "keys" / "masking.key"))
    return path, engine


def test_allowed_identity_unmasks_and_the_event_is_audited(setup):
    path, engine = setup
    originals = ["4539 1488 0343 6467", "5555555555554444"]
    tokens = [engine.mask_text("credit_card", "tokenize", v) for v in originals]
    result = CliRunner().invoke(cli, ["unmask", "-c", str(path), "--identity", "dpo", "--reason", "DSAR-1",
                                      "--type", "credit_card"], input="\n".join(tokens) + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == originals
    export = CliRunner().invoke(cli, ["audit", "export", "-c", str(path), "--format", "jsonl"])
    assert export.exit_code == 0, export.output
    assert "unmask" in export.stdout
    for value in (*originals, *tokens, "DSAR-1"):
        assert value not in export.stdout
    assert any(json.loads(line).get("type") == "unmask" or '"unmask"' in line
               for line in export.stdout.splitlines() if line.strip())


def test_identity_without_allow_unmask_gets_nothing(setup):
    path, engine = setup
    token = engine.mask_text("credit_card", "tokenize", "4539 1488 0343 6467")
    result = CliRunner().invoke(cli, ["unmask", "-c", str(path), "--identity", "analyst", "--reason", "x",
                                      "--type", "credit_card"], input=token + "\n")
    assert result.exit_code != 0
    assert "4539" not in result.stdout
