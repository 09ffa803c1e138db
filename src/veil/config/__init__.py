"""The YAML contract (INTERFACE.md) -> validated, frozen settings.

Pure apart from reading the file and its ``env:``/``file:`` refs.  Errors are
:class:`veil.errors.ConfigError` naming file, line and dotted key.
"""

from veil.config.load import load_config, parse_config, settings_digest
from veil.config.model import (
    DEFAULT_WEBMAIL,
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
from veil.config.refs import absolute_ref, resolve_path, resolve_ref
from veil.config.verifier import SCRAM_PREFIX, parse_scram_verifier

__all__ = [
    "DEFAULT_WEBMAIL",
    "MASK_METHODS",
    "SCRAM_PREFIX",
    "AuditSettings",
    "DevIssuerSettings",
    "IdentitySettings",
    "JWTSettings",
    "KeySettings",
    "LimitSettings",
    "ListenSettings",
    "MaskingSettings",
    "PolicySettings",
    "Settings",
    "TLSSettings",
    "UpstreamSettings",
    "UserSettings",
    "WhenSettings",
    "absolute_ref",
    "load_config",
    "parse_config",
    "parse_scram_verifier",
    "resolve_path",
    "resolve_ref",
    "settings_digest",
]
