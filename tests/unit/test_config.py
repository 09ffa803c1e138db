"""The YAML contract: values parsed, every error names file, line and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import scramp
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.config import load_config, parse_config, resolve_ref
from veil.errors import ConfigError

P = "policies:\n  - name: a\n    access: deny\n"
USER = "identity:\n  users:\n    - name: a\n"
MINIMAL = "upstream:\n  postgres: postgresql://u@127.0.0.1:5432/app\n"

FULL = """\
listen:
  postgres: 127.0.0.1:7000
  http: "[::1]:8080"
  shutdown_grace: 2s
tls:
  cert: file:./server.crt
  key: ./server.key
upstream:
  postgres: postgresql://veil_reader:${VEIL_TEST_DB_PW}@127.0.0.1:5432/app
  connect_timeout: 500ms
keys:
  masking: file:./keys/masking.key
  audit_signing: env:AUDIT_KEY
identity:
  users:
    - name: analyst
      password: env:VEIL_TEST_ANALYST
      groups: [analysts]
    - name: bot
      password: file:bot.pw
      groups: agents
      kind: agent
  jwt:
    issuer: https://idp.example.com/
    audience: veil
    jwks: file:jwks.json
    leeway: 1m
  dev_issuer:
    key: file:./keys/dev-issuer.ed25519
policies:
  - name: ai-agents
    when: {kind: agent, cidrs: [10.0.0.0/8]}
    access: read-only
    require_reason: true
    mask: {default: pseudonymize, credit_card: partial}
    tables: {allow: ["public.*"], deny: ["public.api_credentials"]}
    max_rows: 10000
    max_bytes: 50MB
    statement_timeout: 30s
    deny_functions: [PG_SLEEP]
    predicates_on_masked: deny
  - name: rest
    access: deny
columns:
  public.patients.diagnosis: health
audit:
  store: sqlite:///./audit.db
  on_store_failure: spool
  checkpoint_every: 10
limits:
  max_connections: 50
  max_connections_per_identity: 5
"""


@pytest.fixture
def full_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VEIL_TEST_DB_PW", "s3cret")
    monkeypatch.setenv("VEIL_TEST_ANALYST", "analyst-pw")
    (tmp_path / "bot.pw").write_text("bot-pw\n")
    (tmp_path / "server.crt").write_text("cert")
    (tmp_path / "server.key").write_text("key")
    path = tmp_path / "veil.yaml"
    path.write_text(FULL)
    return path


def test_full_config_values(full_config: Path) -> None:
    s = load_config(full_config)
    base = full_config.parent.resolve()
    assert s.listen.postgres == ("127.0.0.1", 7000)
    assert s.listen.http == ("::1", 8080)
    assert s.listen.shutdown_grace == 2.0
    assert s.tls is not None and s.tls.cert == base / "server.crt" and s.tls.key == base / "server.key"
    assert s.upstream.postgres == "postgresql://veil_reader:s3cret@127.0.0.1:5432/app"
    assert s.upstream.connect_timeout == 0.5
    assert s.keys.masking == f"file:{base}/keys/masking.key"
    assert s.keys.audit_signing == "env:AUDIT_KEY"
    analyst, bot = s.identity.users
    assert (analyst.password, analyst.groups, analyst.kind) == ("analyst-pw", ("analysts",), "human")
    assert (bot.password, bot.groups, bot.kind) == ("bot-pw", ("agents",), "agent")
    assert s.identity.jwt is not None and s.identity.jwt.jwks == f"file:{base}/jwks.json"
    assert s.identity.jwt.leeway == 60.0
    assert s.identity.dev_issuer is not None and s.identity.dev_issuer.issuer == "veil-dev"
    p = s.policies[0]
    assert p.when.kind == "agent" and p.when.cidrs == ("10.0.0.0/8",)
    assert p.max_bytes == 50 * 1024 * 1024 and p.statement_timeout_ms == 30_000
    assert p.deny_functions == ("pg_sleep",) and p.tables_deny == ("public.api_credentials",)
    assert dict(p.mask) == {"default": "pseudonymize", "credit_card": "partial"}
    assert s.policies[1].tables_allow == ("*",) and s.policies[1].access == "deny"
    assert s.columns["public.patients.diagnosis"] == "health"
    assert s.audit.store == f"sqlite:///{base}/audit.db" and s.audit.on_store_failure == "spool"
    assert s.limits.max_connections_per_identity == 5
    assert s.source == full_config.resolve() and len(s.digest) == 64
    assert s.line_of("policies[0].max_bytes") == 38


def test_secrets_stay_out_of_repr_and_digest(full_config: Path) -> None:
    s = load_config(full_config)
    assert "analyst-pw" not in repr(s) and "s3cret" not in repr(s)
    other = full_config.parent / "other.yaml"
    other.write_text(FULL.replace("env:VEIL_TEST_ANALYST", "literal-pw"))
    assert load_config(other).digest == s.digest  # secrets are not part of the policy hash
    other.write_text(FULL.replace("max_rows: 10000", "max_rows: 10001"))
    assert load_config(other).digest != s.digest


def test_defaults() -> None:
    s = parse_config(MINIMAL)
    assert s.listen.postgres == ("127.0.0.1", 6432) and s.listen.http is None
    assert s.listen.shutdown_grace == 10.0 and s.tls is None and s.policies == ()
    assert s.limits.max_connections == 1000 and s.audit.node_id
    assert "gmail.com" in s.masking.webmail_domains and s.masking.cache_size == 65536


def test_scram_verifier_as_password() -> None:
    salt, stored, server, it = scramp.ScramMechanism().make_auth_info("pw", iteration_count=4096)
    import base64

    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    verifier = f"SCRAM-SHA-256${it}:{b64(salt)}${b64(stored)}:{b64(server)}"
    s = parse_config(MINIMAL + f"identity:\n  users:\n    - name: a\n      password: '{verifier}'\n")
    assert s.identity.users[0].password is None and s.identity.users[0].scram_verifier == verifier


@pytest.mark.parametrize(("snippet", "key", "line", "words"), [
    ("bogus: 1\n", "bogus", 3, "unknown key"),
    ("listen:\n  postgres: nope\n", "listen.postgres", 4, "host:port"),
    ("policies:\n  - name: a\n    access: write\n", "policies[0].access", 5, "read-only"),
    ("policies:\n  - name: a\n    access: deny\n    acces: deny\n", "policies[0].acces", 6, "unknown key"),
    ("policies:\n  - name: a\n    access: deny\n    max_bytes: lots\n", "policies[0].max_bytes", 6, "size"),
    ("policies:\n  - name: a\n    access: deny\n    statement_timeout: soon\n",
     "policies[0].statement_timeout", 6, "duration"),
    ("policies:\n  - name: a\n    access: deny\n    mask: {email: scramble}\n", "policies[0].mask.email", 6,
     "masking method"),
    (P + "  - name: a\n    access: deny\n", "policies[1]", 6, "duplicate"),
    (P + "    when: {cidrs: [10.0.0.300/8]}\n", "policies[0].when.cidrs[0]", 6, "IP network"),
    ("identity:\n  users:\n    - name: a\n      password: env:VEIL_TEST_SURELY_UNSET\n",
     "identity.users[0].password", 6, "VEIL_TEST_SURELY_UNSET"),
    (USER + "      password: 'SCRAM-SHA-256$x'\n", "identity.users[0].password", 6, "verifier"),
    ("columns:\n  patients.diagnosis: health\n", "columns.patients.diagnosis", 4, "schema.table.column"),
    ("audit:\n  on_store_failure: ignore\n", "audit.on_store_failure", 4, "refuse"),
    ("limits:\n  max_connections: 0\n", "limits.max_connections", 4, "at least 1"),
    ("listen:\n  postgres: !!python/object:os.system x\n", "listen.postgres", 4, "invalid value"),
    ("listen:\n  shutdown_grace: !!int x\n", "listen.shutdown_grace", 4, "invalid value"),
])
def test_errors_name_file_line_and_key(snippet: str, key: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(MINIMAL + snippet, "veil.yaml")
    err = info.value
    assert (err.source, err.key, err.line) == ("veil.yaml", key, line), str(err)
    assert words in str(err) and str(err).startswith(f"veil.yaml:{line}: {key}: ")


@pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("2m", 120), ("1h", 3600),
                                               ("1.5", 1.5), (7, 7), ("1d", 86400)])
def test_durations(text: object, seconds: float) -> None:
    s = parse_config(MINIMAL + f"listen:\n  shutdown_grace: {text}\n")
    assert s.listen.shutdown_grace == seconds


@pytest.mark.parametrize(("text", "size"), [("512", 512), ("10kB", 10240), ("50MB", 50 * 1024**2),
                                            ("1GiB", 1024**3), ("2 mb", 2 * 1024**2)])
def test_sizes(text: str, size: int) -> None:
    s = parse_config(MINIMAL + f"policies:\n  - {{name: a, access: deny, max_bytes: {text}}}\n")
    assert s.policies[0].max_bytes == size


def test_tls_files_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(MINIMAL + "tls:\n  cert: file:./nope.crt\n  key: file:./nope.key\n", "v.yaml",
                     base=tmp_path)
    assert (info.value.key, info.value.line) == ("tls.cert", 4) and "nope.crt" in str(info.value)


def test_missing_upstream_and_bad_yaml() -> None:
    with pytest.raises(ConfigError, match="upstream"):
        parse_config("listen: {}\n", "x.yaml")
    with pytest.raises(ConfigError) as info:
        parse_config("upstream:\n  postgres: [unclosed\n", "x.yaml")
    assert info.value.line is not None and info.value.source == "x.yaml"


def test_unset_dsn_variable_is_named_not_valued() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("upstream:\n  postgres: postgresql://u:${VEIL_TEST_NOPE}@h/db\n")
    assert info.value.key == "upstream.postgres" and "VEIL_TEST_NOPE" in str(info.value)


def test_resolve_ref(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_TEST_REF", "from-env")
    (tmp_path / "f").write_text("from-file\n")
    assert resolve_ref("env:VEIL_TEST_REF", key="k") == "from-env"
    assert resolve_ref(f"file:{tmp_path / 'f'}", key="k") == "from-file"
    assert resolve_ref("file:f", key="k", base=tmp_path) == "from-file"
    assert resolve_ref("plain", key="k") == "plain"
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_ref(f"file:{tmp_path / 'missing'}", key="k")


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.source == str(tmp_path / "nope.yaml")
    assert os.fspath(tmp_path) in str(info.value)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(MINIMAL + text, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.source == "fuzz.yaml"


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=3), max_leaves=8))
def test_any_policy_shape_is_validated_not_crashed(policy: object) -> None:
    import yaml

    text = MINIMAL + yaml.safe_dump({"policies": [policy]})
    try:
        parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.line is not None
