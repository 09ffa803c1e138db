"""YAML text -> :class:`Settings`, one small parser per section.

Every check raises :class:`ConfigError` naming file, line and dotted key.  The
only I/O is reading the file itself and the ``env:``/``file:`` refs of static
passwords and the upstream DSN; keys and JWKS stay refs for the layers that use them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from veil.config.model import (
    MASK_METHODS,
    AuditSettings,
    DevIssuerSettings,
    IdentitySettings,
    JWTSettings,
    KeySettings,
    LimitSettings,
    ListenSettings,
    MaskingSettings,
    PolicySettings,
    Settings,
    TLSSettings,
    UpstreamSettings,
    UserSettings,
    WhenSettings,
)
from veil.config.nodes import Node, compose
from veil.config.refs import absolute_ref, expand_vars, resolve_path, resolve_ref
from veil.config.verifier import SCRAM_PREFIX, parse_scram_verifier
from veil.errors import ConfigError

_KINDS = ("human", "agent")
_ACCESS = ("deny", "read-only", "read-write")
_TOP = frozenset({"listen", "tls", "upstream", "keys", "identity", "policies", "columns", "masking", "audit",
                  "limits"})


def load_config(path: str | os.PathLike[str]) -> Settings:
    """Read and validate the config file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", source=str(p)) from None
    except UnicodeDecodeError:
        raise ConfigError("config is not UTF-8 text", source=str(p)) from None
    return parse_config(text, str(p), base=p.resolve().parent, path=p.resolve())


def parse_config(text: str, source: str = "<string>", *, base: Path | None = None,
                 path: Path | None = None) -> Settings:
    """Validate config ``text``; relative paths resolve against ``base`` (default: the working directory)."""
    root = compose(text, source)
    base = base if base is not None else Path.cwd()
    top = root.mapping(_TOP)
    if "upstream" not in top:
        raise root.error("missing required key 'upstream'")
    settings = Settings(
        listen=_listen(top["listen"]) if "listen" in top else ListenSettings(),
        tls=_tls(top["tls"], base) if "tls" in top and not top["tls"].is_null() else None,
        upstream=_upstream(top["upstream"], base),
        keys=_keys(top["keys"], base) if "keys" in top else KeySettings(),
        identity=_identity(top["identity"], base) if "identity" in top else IdentitySettings(),
        policies=_policies(top["policies"]) if "policies" in top else (),
        columns=_columns(top["columns"]) if "columns" in top else MappingProxyType({}),
        masking=_masking(top["masking"]) if "masking" in top else MaskingSettings(),
        audit=_audit(top.get("audit"), base),
        limits=_limits(top["limits"]) if "limits" in top else LimitSettings(),
        source=path if path is not None else (Path(source) if source != "<string>" else None),
        locations=MappingProxyType(dict(root.ctx.locations)),
    )
    return dataclasses.replace(settings, digest=settings_digest(settings))


def settings_digest(settings: Settings) -> str:
    """sha256 of the canonical settings, secrets and bookkeeping left out."""
    data = _canonical(settings)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            if f.name in ("source", "digest", "locations"):
                continue
            item = getattr(value, f.name)
            out[f.name] = "<secret>" if (not f.repr and item is not None) else _canonical(item)
        return out
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


# -- sections ---------------------------------------------------------------------------------------

def _hostport(node: Node) -> tuple[str, int] | None:
    if node.is_null():
        return None
    text = node.as_str().strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise node.error("expected host:port, e.g. 127.0.0.1:6432")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    port = int(port_text)
    if not host or port > 65535:
        raise node.error("expected host:port with a port from 0 to 65535")
    return host, port


def _listen(node: Node) -> ListenSettings:
    m = node.mapping(frozenset({"postgres", "http", "shutdown_grace"}))
    d = ListenSettings()
    return ListenSettings(
        postgres=_hostport(m["postgres"]) if "postgres" in m else d.postgres,
        http=_hostport(m["http"]) if "http" in m else d.http,
        shutdown_grace=m["shutdown_grace"].as_duration() if "shutdown_grace" in m else d.shutdown_grace,
    )


def _file_path(node: Node, base: Path) -> Path:
    """An existing file; checked here so ``veil policy check`` catches a wrong path with its line."""
    text = node.as_str()
    if text.startswith("env:"):
        text = resolve_ref(text, key=node.path, source=node.ctx.source, line=node.line)
    path = resolve_path(text[5:] if text.startswith("file:") else text, base)
    if not path.is_file():
        raise node.error(f"no such file: {path}")
    return path


def _tls(node: Node, base: Path) -> TLSSettings:
    m = node.mapping(frozenset({"cert", "key", "min_version", "require"}))
    for required in ("cert", "key"):
        if required not in m:
            raise node.error(f"missing required key '{required}'")
    return TLSSettings(
        cert=_file_path(m["cert"], base),
        key=_file_path(m["key"], base),
        min_version=m["min_version"].as_choice(("1.2", "1.3")) if "min_version" in m else "1.2",
        require=m["require"].as_bool() if "require" in m and not m["require"].is_null() else False,
    )


def _upstream(node: Node, base: Path) -> UpstreamSettings:
    m = node.mapping(frozenset({"postgres", "connect_timeout"}))
    if "postgres" not in m:
        raise node.error("missing required key 'postgres'")
    pg = m["postgres"]
    dsn = resolve_ref(pg.as_str(), key=pg.path, base=base, source=pg.ctx.source, line=pg.line)
    dsn = expand_vars(dsn, key=pg.path, source=pg.ctx.source, line=pg.line)
    timeout = m["connect_timeout"].as_duration() if "connect_timeout" in m else 10.0
    return UpstreamSettings(postgres=dsn, connect_timeout=timeout)


def _ref(node: Node, base: Path) -> str | None:
    return None if node.is_null() else absolute_ref(node.as_str(), base)


def _keys(node: Node, base: Path) -> KeySettings:
    m = node.mapping(frozenset({"masking", "audit_signing"}))
    return KeySettings(
        masking=_ref(m["masking"], base) if "masking" in m else None,
        audit_signing=_ref(m["audit_signing"], base) if "audit_signing" in m else None,
    )


def _identity(node: Node, base: Path) -> IdentitySettings:
    m = node.mapping(frozenset({"users", "jwt", "dev_issuer"}))
    users = tuple(_user(item, base) for item in m["users"].items()) if "users" in m else ()
    seen: set[str] = set()
    for item, user in zip(m["users"].items() if "users" in m else (), users, strict=True):
        if user.name in seen:
            raise item.error(f"duplicate user name {user.name!r}")
        seen.add(user.name)
    jwt = _jwt(m["jwt"], base) if "jwt" in m and not m["jwt"].is_null() else None
    dev = _dev_issuer(m["dev_issuer"], base) if "dev_issuer" in m and not m["dev_issuer"].is_null() else None
    return IdentitySettings(users=users, jwt=jwt, dev_issuer=dev)


def _user(node: Node, base: Path) -> UserSettings:
    m = node.mapping(frozenset({"name", "password", "scram_verifier", "groups", "kind"}))
    if "name" not in m:
        raise node.error("missing required key 'name'")
    password: str | None = None
    verifier: str | None = None
    if "password" in m and not m["password"].is_null():
        p = m["password"]
        password = resolve_ref(p.as_str(), key=p.path, base=base, source=p.ctx.source, line=p.line)
        if password.startswith(SCRAM_PREFIX):
            password, verifier = None, password
    if "scram_verifier" in m and not m["scram_verifier"].is_null():
        v = m["scram_verifier"]
        if verifier is not None:
            raise v.error("give either a password or a scram_verifier, not both")
        verifier = resolve_ref(v.as_str(), key=v.path, base=base, source=v.ctx.source, line=v.line)
    if verifier is not None:
        where = m.get("scram_verifier") or m["password"]
        _check_verifier(verifier, where)
    if password is None and verifier is None:
        raise node.error("a user needs a password (env:, file:, literal or SCRAM-SHA-256 verifier)")
    return UserSettings(
        name=m["name"].as_str(),
        password=password,
        scram_verifier=verifier,
        groups=m["groups"].as_str_list() if "groups" in m else (),
        kind=cast(Any, m["kind"].as_choice(_KINDS)) if "kind" in m else "human",
    )


def _check_verifier(verifier: str, node: Node) -> None:
    try:
        parse_scram_verifier(verifier)
    except ValueError:
        raise node.error("malformed SCRAM-SHA-256 verifier "
                         "(expected SCRAM-SHA-256$<iter>:<salt>$<stored>:<server>)") from None


def _jwt(node: Node, base: Path) -> JWTSettings:
    m = node.mapping(frozenset({"issuer", "audience", "jwks", "groups_claim", "kind_claim", "leeway"}))
    for required in ("issuer", "audience", "jwks"):
        if required not in m:
            raise node.error(f"missing required key '{required}'")
    jwks = m["jwks"].as_str()
    if not (jwks.startswith(("https://", "file:", "http://127.0.0.1", "http://localhost"))):
        raise m["jwks"].error("must be an https:// URL or a file: path")
    d = JWTSettings("", "", "")
    return JWTSettings(
        issuer=m["issuer"].as_str(),
        audience=m["audience"].as_str(),
        jwks=absolute_ref(jwks, base),
        groups_claim=m["groups_claim"].as_str() if "groups_claim" in m else d.groups_claim,
        kind_claim=m["kind_claim"].as_str() if "kind_claim" in m else d.kind_claim,
        leeway=m["leeway"].as_duration() if "leeway" in m else d.leeway,
    )


def _dev_issuer(node: Node, base: Path) -> DevIssuerSettings:
    m = node.mapping(frozenset({"key", "issuer", "audience"}))
    if "key" not in m:
        raise node.error("missing required key 'key'")
    key = m["key"].as_str()
    if not key.startswith(("file:", "env:")):
        key = "file:" + key
    return DevIssuerSettings(
        key=absolute_ref(key, base),
        issuer=m["issuer"].as_str() if "issuer" in m else "veil-dev",
        audience=m["audience"].as_str() if "audience" in m else "veil",
    )


_POLICY_KEYS = frozenset({
    "name", "when", "access", "require_reason", "mask", "tables", "max_rows", "max_bytes",
    "statement_timeout", "deny_functions", "predicates_on_masked", "allow_multi_statement",
    "require_limit", "allow_unmask", "allow_replication",
})


def _policies(node: Node) -> tuple[PolicySettings, ...]:
    out: list[PolicySettings] = []
    names: set[str] = set()
    for item in node.items():
        policy = _policy(item)
        if policy.name in names:
            raise item.error(f"duplicate policy name {policy.name!r}")
        names.add(policy.name)
        out.append(policy)
    return tuple(out)


def _opt(m: dict[str, Node], key: str) -> Node | None:
    """The node at ``key`` unless absent or null."""
    node = m.get(key)
    return None if node is None or node.is_null() else node


def _opt_bool(m: dict[str, Node], key: str) -> bool | None:
    return None if key not in m or m[key].is_null() else m[key].as_bool()


def _policy(node: Node) -> PolicySettings:
    m = node.mapping(_POLICY_KEYS)
    for required in ("name", "access"):
        if required not in m:
            raise node.error(f"missing required key '{required}'")
    allow: tuple[str, ...] = ("*",)
    deny: tuple[str, ...] = ()
    if "tables" in m:
        t = m["tables"].mapping(frozenset({"allow", "deny"}))
        allow = t["allow"].as_str_list() if "allow" in t else allow
        deny = t["deny"].as_str_list() if "deny" in t else deny
    timeout = m["statement_timeout"].as_duration() if "statement_timeout" in m else None
    return PolicySettings(
        name=m["name"].as_str(),
        when=_when(m["when"]) if "when" in m else WhenSettings(),
        access=cast(Any, m["access"].as_choice(_ACCESS)),
        require_reason=m["require_reason"].as_bool() if "require_reason" in m else False,
        mask=_mask(m["mask"]) if "mask" in m else MappingProxyType({}),
        tables_allow=allow,
        tables_deny=deny,
        max_rows=n.as_int(minimum=1) if (n := _opt(m, "max_rows")) else None,
        max_bytes=n.as_size() if (n := _opt(m, "max_bytes")) else None,
        statement_timeout_ms=None if timeout is None else max(1, round(timeout * 1000)),
        deny_functions=tuple(f.lower() for f in n.as_str_list()) if (n := _opt(m, "deny_functions")) else (),
        predicates_on_masked=cast(Any, n.as_choice(("allow", "equality", "deny")))
        if (n := _opt(m, "predicates_on_masked")) else None,
        allow_multi_statement=_opt_bool(m, "allow_multi_statement"),
        require_limit=_opt_bool(m, "require_limit"),
        allow_unmask=_opt_bool(m, "allow_unmask") or False,
        allow_replication=_opt_bool(m, "allow_replication") or False,
    )


def _when(node: Node) -> WhenSettings:
    m = node.mapping(frozenset({"kind", "groups", "identities", "cidrs"}))
    cidrs = m["cidrs"].as_str_list() if "cidrs" in m else ()
    for i, cidr in enumerate(cidrs):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise Node(m["cidrs"].node, f"{m['cidrs'].path}[{i}]", node.ctx).error(
                "not an IP network (e.g. 10.0.0.0/8)") from None
    return WhenSettings(
        kind=cast(Any, m["kind"].as_choice(_KINDS)) if "kind" in m and not m["kind"].is_null() else None,
        groups=m["groups"].as_str_list() if "groups" in m else (),
        identities=m["identities"].as_str_list() if "identities" in m else (),
        cidrs=cidrs,
    )


def _mask(node: Node) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for key, value in node.mapping().items():
        if value.is_null():
            out[key] = "none"
            continue
        method = value.as_str()
        if method not in MASK_METHODS:
            known = ", ".join(sorted(MASK_METHODS))
            raise value.error(f"unknown masking method {method!r} (expected one of: {known})")
        out[key] = method
    return MappingProxyType(out)


def _columns(node: Node) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for key, value in node.mapping().items():
        if len(key.split(".")) != 3 or not all(key.split(".")):
            raise value.error("column tags are keyed schema.table.column")
        out[key] = value.as_str()
    return MappingProxyType(out)


def _masking(node: Node) -> MaskingSettings:
    m = node.mapping(frozenset({"webmail_domains", "cache_size"}))
    d = MaskingSettings()
    return MaskingSettings(
        webmail_domains=tuple(s.lower() for s in m["webmail_domains"].as_str_list())
        if "webmail_domains" in m else d.webmail_domains,
        cache_size=m["cache_size"].as_int() if "cache_size" in m else d.cache_size,
    )


def _audit(node: Node | None, base: Path) -> AuditSettings:
    m = node.mapping(frozenset({"store", "on_store_failure", "anchor", "node_id", "checkpoint_interval",
                                "checkpoint_every", "spool_dir", "confirm", "confirm_timeout"})) \
        if node is not None else {}
    d = AuditSettings()
    store = m["store"].as_str() if "store" in m else d.store
    if store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
        store = "sqlite:///" + str(resolve_path(store[len("sqlite:///"):], base))
    elif not store.startswith(("sqlite:", "postgresql://", "postgres://", "nats://")):
        raise m["store"].error("expected sqlite:///PATH, postgresql://... or nats://host:port/STREAM")
    if "store" in m:
        store = expand_vars(store, key=m["store"].path, source=m["store"].ctx.source, line=m["store"].line)
    spool = m["spool_dir"].as_str() if "spool_dir" in m and not m["spool_dir"].is_null() else None
    return AuditSettings(
        store=store,
        on_store_failure=cast(Any, m["on_store_failure"].as_choice(("refuse", "spool")))
        if "on_store_failure" in m else d.on_store_failure,
        anchor=_ref(m["anchor"], base) if "anchor" in m else None,
        node_id=m["node_id"].as_str() if "node_id" in m else socket.gethostname(),
        checkpoint_interval=m["checkpoint_interval"].as_duration() if "checkpoint_interval" in m
        else d.checkpoint_interval,
        checkpoint_every=n.as_int(minimum=1) if (n := _opt(m, "checkpoint_every")) else d.checkpoint_every,
        spool_dir=str(resolve_path(spool, base)) if spool else None,
        # a statement's result waits for its event to be stored: by default only where the store
        # acknowledges each message (NATS JetStream); sqlite/PostgreSQL commit in 50 ms batches
        confirm=m["confirm"].as_bool() if "confirm" in m else store.startswith("nats://"),
        confirm_timeout=m["confirm_timeout"].as_duration() if "confirm_timeout" in m else d.confirm_timeout,
    )


def _limits(node: Node) -> LimitSettings:
    m = node.mapping(frozenset({"max_connections", "max_connections_per_identity"}))
    per = m.get("max_connections_per_identity")
    return LimitSettings(
        max_connections=m["max_connections"].as_int(minimum=1) if "max_connections" in m else 1000,
        max_connections_per_identity=per.as_int(minimum=1) if per is not None and not per.is_null() else None,
    )
