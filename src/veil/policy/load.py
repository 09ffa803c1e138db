"""Settings -> compiled policies, with the checks config cannot make (it sits below detect).

A ``mask:`` key must be a data type, a category or ``default``; the error names
the file and line from ``Settings.locations``.
"""

from __future__ import annotations

from veil.config import Settings
from veil.detect import CATEGORIES, TYPES
from veil.errors import ConfigError
from veil.policy.model import CompiledPolicy


def compile_policies(settings: Settings) -> tuple[CompiledPolicy, ...]:
    known = set(TYPES) | set(CATEGORIES) | {"default"}
    source = str(settings.source) if settings.source else None
    for i, policy in enumerate(settings.policies):
        for key in policy.mask:
            if key not in known:
                path = f"policies[{i}].mask.{key}"
                raise ConfigError(f"unknown data type or category {key!r}", key=path, source=source,
                                  line=settings.line_of(path))
    for column, tag in settings.columns.items():
        if tag != "none" and tag not in TYPES:
            path = f"columns.{column}"
            raise ConfigError(f"unknown data type {tag!r}", key=path, source=source,
                              line=settings.line_of(path))
    return tuple(CompiledPolicy.compile(p) for p in settings.policies)
