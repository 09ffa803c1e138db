"""``env:NAME`` / ``file:PATH`` references and ``${VAR}`` expansion.

Secrets stay out of the config file: a value may name an environment variable or
a file instead.  Errors name the key, never the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from veil.errors import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve_path(path: str, base: Path | None) -> Path:
    """``path`` made absolute against ``base`` (the config file's directory) when relative."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    return p


def absolute_ref(ref: str, base: Path | None) -> str:
    """A ``file:`` ref with its path made absolute against ``base``; other refs unchanged.

    Used for refs kept as strings (keys, JWKS, anchors) so the layer that finally
    opens them does not depend on the process's working directory.
    """
    if ref.startswith("file:"):
        return "file:" + str(resolve_path(ref[5:], base))
    return ref


def resolve_ref(ref: str, *, key: str, base: Path | None = None, source: str | None = None,
                line: int | None = None) -> str:
    """The value ``ref`` stands for: ``env:NAME`` -> the variable, ``file:PATH`` -> the file's text
    (trailing newline stripped), anything else -> itself."""
    if ref.startswith("env:"):
        name = ref[4:]
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(f"environment variable {name} is not set", key=key, source=source, line=line)
        return value
    if ref.startswith("file:"):
        path = resolve_path(ref[5:], base)
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}", key=key, source=source,
                              line=line) from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path} is not UTF-8 text", key=key, source=source, line=line) from None
    return ref


def expand_vars(text: str, *, key: str, source: str | None = None, line: int | None = None) -> str:
    """``${VAR}`` replaced by the environment variable; an unset variable is an error."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(f"environment variable {name} is not set", key=key, source=source, line=line)
        return value

    return _VAR.sub(sub, text)
