"""Validated settings: the YAML contract of INTERFACE.md as frozen dataclasses.

These are plain data so every layer above may read them without pulling in
parsing code.  Secrets (resolved static passwords) are kept out of ``repr`` so
a settings object printed into a log or traceback never shows one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from veil.values import AccessMode, Kind

PredicateMode = Literal["allow", "equality", "deny"]
# tokenize: reversible FF1 tokens (veil unmask), an addition to the INTERFACE.md list
MASK_METHODS = frozenset({"pseudonymize", "partial", "redact", "hash", "generalize", "null", "none",
                          "tokenize"})
DEFAULT_WEBMAIL: tuple[str, ...] = (
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com", "msn.com",
    "icloud.com", "me.com", "aol.com", "gmx.com", "gmx.de", "web.de", "proton.me", "protonmail.com",
    "yandex.ru", "mail.ru", "qq.com", "163.com", "zoho.com",
)


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


def _no_lines() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ListenSettings:
    postgres: tuple[str, int] | None = ("127.0.0.1", 6432)
    http: tuple[str, int] | None = None
    shutdown_grace: float = 10.0  # seconds open sessions get to finish on shutdown


@dataclass(frozen=True, slots=True)
class TLSSettings:
    cert: Path
    key: Path
    min_version: str = "1.2"
    require: bool = False  # refuse clients that do not negotiate TLS (FATAL 28000); off keeps plaintext too


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    postgres: str = field(repr=False)  # may carry a password after ${VAR} expansion
    connect_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class KeySettings:
    masking: str | None = None
    audit_signing: str | None = None


@dataclass(frozen=True, slots=True)
class UserSettings:
    name: str
    password: str | None = field(default=None, repr=False)
    scram_verifier: str | None = field(default=None, repr=False)
    groups: tuple[str, ...] = ()
    kind: Kind = "human"


@dataclass(frozen=True, slots=True)
class JWTSettings:
    issuer: str
    audience: str
    jwks: str
    groups_claim: str = "groups"
    kind_claim: str = "veil_kind"
    leeway: float = 30.0


@dataclass(frozen=True, slots=True)
class DevIssuerSettings:
    key: str
    issuer: str = "veil-dev"
    audience: str = "veil"


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    users: tuple[UserSettings, ...] = ()
    jwt: JWTSettings | None = None
    dev_issuer: DevIssuerSettings | None = None


@dataclass(frozen=True, slots=True)
class WhenSettings:
    """Conditions of a policy; all given ones must hold, an empty ``when`` matches everyone."""

    kind: Kind | None = None
    groups: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicySettings:
    name: str
    when: WhenSettings = WhenSettings()
    access: AccessMode = "deny"
    require_reason: bool = False
    mask: Mapping[str, str] = field(default_factory=_empty)
    tables_allow: tuple[str, ...] = ("*",)  # no ``tables:`` key = every table
    tables_deny: tuple[str, ...] = ()
    max_rows: int | None = None
    max_bytes: int | None = None
    statement_timeout_ms: int | None = None
    deny_functions: tuple[str, ...] = ()
    predicates_on_masked: PredicateMode | None = None  # None = engine default (deny agents, equality humans)
    allow_multi_statement: bool | None = None  # None = engine default (no for agents)
    require_limit: bool | None = None
    allow_unmask: bool = False
    allow_replication: bool = False


@dataclass(frozen=True, slots=True)
class MaskingSettings:
    webmail_domains: tuple[str, ...] = DEFAULT_WEBMAIL
    cache_size: int = 65536


@dataclass(frozen=True, slots=True)
class AuditSettings:
    store: str = "sqlite:///./veil-audit.db"
    on_store_failure: Literal["refuse", "spool"] = "refuse"
    anchor: str | None = None
    node_id: str = ""
    checkpoint_interval: float = 1.0
    checkpoint_every: int = 1000
    spool_dir: str | None = None
    confirm: bool = False  # hold each statement's result until its event is stored (loader: on for nats://)
    confirm_timeout: float = 10.0  # then the session ends with 58000 instead of releasing the result


@dataclass(frozen=True, slots=True)
class LimitSettings:
    max_connections: int = 1000
    max_connections_per_identity: int | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole validated configuration.

    ``digest`` is the sha256 of the canonical settings (secrets excluded); it is the
    policy hash recorded in every decision.  ``locations`` maps dotted key paths
    (``policies[1].mask.email``) to 1-based lines so layers above can report a
    problem they find later (e.g. an unknown data type) with file and line.
    """

    upstream: UpstreamSettings
    listen: ListenSettings = ListenSettings()
    tls: TLSSettings | None = None
    keys: KeySettings = KeySettings()
    identity: IdentitySettings = IdentitySettings()
    policies: tuple[PolicySettings, ...] = ()
    columns: Mapping[str, str] = field(default_factory=_empty)
    masking: MaskingSettings = MaskingSettings()
    audit: AuditSettings = AuditSettings()
    limits: LimitSettings = LimitSettings()
    source: Path | None = None
    digest: str = ""
    locations: Mapping[str, int] = field(default_factory=_no_lines, repr=False, compare=False)

    def line_of(self, key: str) -> int | None:
        """The line of ``key`` (dotted path) or of its nearest known parent."""
        while key:
            if key in self.locations:
                return self.locations[key]
            cut = max(key.rfind("."), key.rfind("["))
            key = key[:cut] if cut > 0 else ""
        return None
