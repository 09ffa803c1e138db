"""The YAML contract (INTERFACE.md) -> validated, frozen settings.

Pure apart from reading the file and its ``env:``/``file:`` refs.  Errors are
:class:`veil.errors.ConfigError` naming file, line and dotted key.
"""

from veil.config.load import SCRAM_PREFIX, load_config, parse_config, settings_digest
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

__all__ = [
    "DEFAULT_WEBMAIL", "MASK_METHODS", "SCRAM_PREFIX", "AuditSettings", "DevIssuerSettings",
    "IdentitySettings", "JWTSettings", "KeySettings", "LimitSettings", "ListenSettings", "MaskingSettings",
    "PolicySettings", "Settings", "TLSSettings", "UpstreamSettings", "UserSettings", "WhenSettings",
    "absolute_ref", "load_config", "parse_config", "resolve_path", "resolve_ref", "settings_digest",
]
