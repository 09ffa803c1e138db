"""``veil audit ...`` and ``veil report`` on a real trail written through AuditService."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from veil.cli import main
from veil.cli.keys import generate_keys
from veil.config import load_config
from veil.pipeline.audit import AuditService
from veil.pipeline.hooks import Request, Session
from veil.sql import analyze
from veil.values import Decision, Identity, MaskProvenance

PLANTED = "carol.planted@example.net"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return int(code or 0), out, err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    generate_keys(tmp_path / "keys")
    (tmp_path / "witness").mkdir()
    path = tmp_path / "veil.yaml"
    path.write_text(
        "upstream:\n  postgres: postgresql://x@127.0.0.1/app\n"
        "keys:\n  audit_signing: file:./keys/audit.key\n  masking: file:./keys/masking.key\n"
        "audit:\n  store: sqlite:///./trail.db\n  node_id: n1\n  anchor: file:./witness\n"
        "  checkpoint_every: 10\n")
    svc = AuditService.from_settings(load_config(path))
    for i in range(25):
        human = i % 2 == 1
        ident = Identity("ana" if human else "bot", ("analysts",), "human" if human else "agent")
        sql = f"SELECT email FROM public.customers WHERE email = '{PLANTED}'"
        req = Request(Session(ident), sql, reason=f"TICKET-{i} re {PLANTED}" if i % 5 == 0 else None)
        req.statement = analyze(sql)[0]
        refused = i % 7 == 0
        req.decision = Decision(not refused, "p1", "read-only", rule_ids=("tables.deny",) if refused else (),
                                policy_hash="d1")
        req.outcome.status = "refused" if refused else "ok"
        req.outcome.masking.append(MaskProvenance("email", "email", "none" if i % 5 == 0 else "pseudonymize",
                                                  "k1", 1))
        svc.record_request(req)
    svc.close()
    return path


def test_verify_intact_then_tampered(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "verify", "-c", str(config))
    assert code == 0 and "veil.audit/n1: intact, 25 events" in out
    with sqlite3.connect(config.parent / "trail.db") as conn:
        eid = conn.execute("SELECT event_id FROM audit_events "
                           "WHERE origin='veil.audit/n1' AND seq=12").fetchone()[0]
        conn.execute("UPDATE audit_events SET data = replace(data, '\"ana\"', '\"eve\"') "
                     "WHERE origin='veil.audit/n1' AND seq=12")
    pub = str(config.parent / "keys/audit.pub")
    code, out, err = run(capsys, "audit", "verify", "-c", str(config), "--key", pub)
    assert code == 1
    assert f"event seq 12 (id {eid})" in out and "FAILED" in out and "seq 12" in err


def test_truncation_caught_by_the_anchor_and_trusted_checkpoint(config: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    witness = config.parent / "witness"
    with sqlite3.connect(config.parent / "trail.db") as conn:
        conn.execute("DELETE FROM audit_events WHERE origin='veil.audit/n1' AND seq > 20")
        conn.execute("DELETE FROM audit_checkpoints WHERE origin='veil.audit/n1' AND size > 20")
    db = f"sqlite:///{config.parent / 'trail.db'}"
    key = str(config.parent / "keys/audit.pub")
    code, _, _ = run(capsys, "audit", "verify", "--store", db, "--key", key)
    assert code == 0  # the cut is clean on its own...
    code, out, _ = run(capsys, "audit", "verify", "--store", db, "--key", key,
                       "--trusted-checkpoint", str(witness))
    assert code == 1 and "event seq 21" in out  # ...but the witness holds the later checkpoint
    code, out, _ = run(capsys, "audit", "verify", "-c", str(config))  # the configured anchor is used too
    assert code == 1


def test_search_tail_export_never_show_planted_values(config: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "export", "-c", str(config), "--format", "jsonl")
    assert code == 0 and PLANTED not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert sum(1 for e in lines if e["type"] == "request") == 25
    code, out, _ = run(capsys, "audit", "search", "-c", str(config), "--identity", "bot",
                       "--event", "request", "--format", "jsonl")
    assert code == 0 and len(out.splitlines()) == 13 and PLANTED not in out
    code, out, _ = run(capsys, "audit", "search", "-c", str(config), "--table", "customers", "--since", "1h")
    assert len(out.splitlines()) == 25
    code, out, _ = run(capsys, "audit", "search", "-c", str(config), "--type", "credit_card")
    assert code == 0 and out == ""
    code, out, _ = run(capsys, "audit", "tail", "-c", str(config), "-n", "3")
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run(capsys, "audit", "search", "-c", str(config), "--event", "audit_read",
                       "--format", "jsonl")
    commands = sorted(json.loads(line)["details"]["command"] for line in out.splitlines())
    assert commands == ["export", "search", "search", "search", "search", "tail"]  # reads are audited too
    assert run(capsys, "audit", "verify", "-c", str(config))[0] == 0


def test_prove_and_check_offline(config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, out, _ = run(capsys, "audit", "search", "-c", str(config), "--identity", "ana", "--format", "jsonl")
    event_id = json.loads(out.splitlines()[3])["id"]
    code, out, _ = run(capsys, "audit", "prove", "-c", str(config), event_id)
    assert code == 0
    proof = json.loads(out)
    assert proof["event_id"] == event_id and proof["tree_size"] == 25
    path = tmp_path / "proof.json"
    path.write_text(out)
    pub = str(config.parent / "keys/audit.pub")
    code, out, _ = run(capsys, "audit", "prove", "--key", pub, "--check", str(path))
    assert code == 0 and "proof valid" in out
    proof["proof"][0] = "00" * 32
    path.write_text(json.dumps(proof))
    code, _, err = run(capsys, "audit", "prove", "--key", pub, "--check", str(path))
    assert code == 1 and "proof" in err


def test_report_json_and_html(config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "report", "-c", str(config), "--format", "json", "--since", "1d")
    assert code == 0 and PLANTED not in out
    doc = json.loads(out)
    assert doc["verification"]["ok"] is True
    assert doc["sensitive_access"]["bot"]["email"] == 13 and doc["sensitive_access"]["ana"]["email"] == 12
    assert doc["masked_vs_unmasked"] == {"masked": {"email": 20}, "unmasked": {"email": 5}}
    assert len(doc["reasoned_access"]) == 5
    assert all(r["unmasked_types"] == ["email"] for r in doc["reasoned_access"])
    assert doc["refused"]["count"] == 4
    assert doc["agents_vs_humans"]["agent"]["requests"] == 13
    assert [p["digest"] for p in doc["policy_versions"]] == ["d1"]
    html_path = tmp_path / "r.html"
    code, _, _ = run(capsys, "report", "-c", str(config), "-o", str(html_path))
    page = html_path.read_text()
    assert code == 0 and page.count("<svg") == 4 and "VERIFIED" in page and PLANTED not in page
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_without_a_key_the_trail_names_its_key_and_says_so(config: Path, capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    db = f"sqlite:///{config.parent / 'trail.db'}"
    code, out, err = run(capsys, "audit", "verify", "--store", db)
    assert code == 0 and "intact" in out and "trusting the key" in err
    _, out, _ = run(capsys, "audit", "search", "--store", db, "--format", "jsonl")
    event_id = json.loads(out.splitlines()[0])["id"]
    _, out, _ = run(capsys, "audit", "prove", "-c", str(config), event_id)
    path = tmp_path / "p.json"
    path.write_text(out)
    code, out, err = run(capsys, "audit", "prove", "--check", str(path))
    assert code == 0 and "proof valid" in out and "trusting the key" in err
