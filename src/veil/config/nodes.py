"""Typed access to a composed YAML tree, keeping the line of every key.

PyYAML's ``compose`` gives nodes with marks; we construct values ourselves from
them so that every error can name the file, the line and the dotted key.  Each
:class:`Node` knows its path; the ``as_*`` methods validate and convert.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

from veil.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
# libyaml's parser when PyYAML was built with it (about 5x faster reloads); both carry line marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Context:
    """Per-load state: the source name and the line of every key seen."""

    source: str
    locations: dict[str, int] = field(default_factory=dict)
    constructor: yaml.constructor.SafeConstructor = field(default_factory=yaml.constructor.SafeConstructor)


@dataclass
class Node:
    node: yaml.Node
    path: str
    ctx: Context

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, key=self.path or "<root>", source=self.ctx.source, line=self.line)

    def child(self, node: yaml.Node, path: str) -> Node:
        self.ctx.locations.setdefault(path, node.start_mark.line + 1)
        return Node(node, path, self.ctx)

    # -- containers -------------------------------------------------------------------------------
    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == "tag:yaml.org,2002:null"

    def mapping(self, allowed: frozenset[str] | None = None) -> dict[str, Node]:
        """The mapping's entries; unknown keys (when ``allowed`` is given) and duplicates are errors."""
        if self.is_null():
            return {}
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error("expected a mapping")
        out: dict[str, Node] = {}
        for key_node, value_node in self.node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("mapping keys must be plain strings")
            key = str(key_node.value)
            path = f"{self.path}.{key}" if self.path else key
            keyed = Node(key_node, path, self.ctx)
            if key in out:
                raise keyed.error("duplicate key")
            if allowed is not None and key not in allowed:
                known = ", ".join(sorted(allowed))
                raise keyed.error(f"unknown key (expected one of: {known})")
            self.ctx.locations.setdefault(path, keyed.line)
            out[key] = Node(value_node, path, self.ctx)
        return out

    def items(self) -> Iterator[Node]:
        if self.is_null():
            return
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error("expected a list")
        for i, item in enumerate(self.node.value):
            yield self.child(item, f"{self.path}[{i}]")

    # -- scalars ----------------------------------------------------------------------------------
    def value(self) -> object:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.error("expected a single value")
        try:
            return self.ctx.constructor.construct_object(self.node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError):  # unknown tags, "!!int x", ...
            raise self.error(f"invalid value for tag {self.node.tag}") from None

    def as_str(self) -> str:
        value = self.value()
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
            raise self.error("expected a string")
        text = str(value) if not isinstance(value, str) else value
        if not text.strip():
            raise self.error("must not be empty")
        return text

    def as_str_list(self) -> tuple[str, ...]:
        """A list of strings; a single string is accepted as a one-element list."""
        if isinstance(self.node, yaml.ScalarNode) and not self.is_null():
            return (self.as_str(),)
        return tuple(item.as_str() for item in self.items())

    def as_bool(self) -> bool:
        value = self.value()
        if not isinstance(value, bool):
            raise self.error("expected true or false")
        return value

    def as_int(self, *, minimum: int = 0) -> int:
        value = self.value()
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error("expected an integer")
        if value < minimum:
            raise self.error(f"must be at least {minimum}")
        return value

    def as_choice(self, choices: tuple[str, ...]) -> str:
        value = self.as_str()
        if value not in choices:
            raise self.error(f"must be one of: {', '.join(choices)}")
        return value

    def as_duration(self) -> float:
        """Seconds, from a number (seconds) or ``500ms``/``30s``/``5m``/``1h``/``1d``."""
        value = self.value()
        if isinstance(value, bool):
            raise self.error("expected a duration such as 30s")
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            match = _DURATION.match(str(value))
            if not match:
                raise self.error("expected a duration such as 500ms, 30s, 5m or 1h")
            seconds = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]
        if seconds < 0:
            raise self.error("must not be negative")
        return seconds

    def as_size(self) -> int:
        """Bytes, from an integer or ``512KB``/``50MB``/``1GiB`` (powers of 1024, as PostgreSQL does)."""
        value = self.value()
        if isinstance(value, bool):
            raise self.error("expected a size such as 50MB")
        if isinstance(value, int):
            if value < 0:
                raise self.error("must not be negative")
            return value
        match = _SIZE.match(str(value))
        if not match:
            raise self.error("expected a size such as 512KB, 50MB or 1GB")
        unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
        return int(float(match.group(1)) * _SIZE_UNITS[unit])


def compose(text: str, source: str) -> Node:
    """The root node of ``text``; a YAML syntax error becomes a ConfigError with its line."""
    ctx = Context(source)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", source=source) from None
    if root is None:
        root = yaml.ScalarNode("tag:yaml.org,2002:null", "", yaml.Mark(source, 0, 0, 0, "", 0))
    return Node(root, "", ctx)
