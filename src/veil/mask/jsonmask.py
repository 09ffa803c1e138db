"""Masking inside JSON documents: keep the structure and the keys, mask the values.

Each string value is scanned with its key path as the column name (so ``{"ssn": ...}``
or ``{"contact": {"email": ...}}`` hint the scanner) and span-masked; numbers are
scanned as text too, so a card number stored as a JSON number is caught, and stay
numbers.  A key that itself holds sensitive data (``{"ana@x.org": 3}``) is masked as
well.  When the column is tagged with a type, every string value is masked as that type.
Numbers are parsed as ``Decimal`` and written back digit for digit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from veil.detect import name_hints
from veil.errors import MaskingError

if TYPE_CHECKING:
    from veil.mask.engine import MaskEngine

_DIGITS = re.compile(r"\D")
#: a key path hint at least this sure masks the whole value as the type (as for columns)
TYPED_HINT = 0.7


def _typed_hint(path: str) -> str | None:
    hints = name_hints(path)
    return hints[0].type if hints and hints[0].confidence >= TYPED_HINT else None


class _Walker:
    def __init__(self, engine: MaskEngine, data_type: str | None, method: str, mask_map: Mapping[str, str]):
        self.engine = engine
        self.data_type = data_type
        self.method = method
        self.mask_map = mask_map

    def string(self, value: str, path: str) -> str | None:
        if self.data_type is not None:
            return self.engine.mask_value(self.data_type, self.method, value)
        hinted = _typed_hint(path) if path else None
        if hinted is not None:  # {"ssn": ...}: the key says what the value is, like a column name
            return self.engine.mask_value(hinted, self.engine.resolve_method(hinted, self.mask_map), value)
        return self.engine.scan_and_mask(value, self.mask_map, column=path or None)

    def number(self, value: int | Decimal, path: str) -> int | Decimal | None:
        if isinstance(value, Decimal) and value != value.to_integral_value():
            return value
        text = str(int(value))
        masked = self.string(text, path)
        if masked is None:
            return None
        if masked == text:
            return value
        digits = _DIGITS.sub("", masked.replace("*", "0"))
        return int(digits) if digits else 0

    def walk(self, node: object, path: str) -> object:
        if isinstance(node, str):
            return self.string(node, path)
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int | Decimal):
            return self.number(node, path)
        if isinstance(node, list):
            return [self.walk(item, path) for item in node]
        if isinstance(node, dict):
            out: dict[str, object] = {}
            for key, item in node.items():
                sub = f"{path}.{key}" if path else key
                new_key = self.engine.scan_and_mask(key, self.mask_map) if self.data_type is None else key
                out[new_key] = self.walk(item, sub)
            return out
        raise MaskingError("unexpected JSON value")


def _write(node: object) -> str:
    if node is None:
        return "null"
    if node is True:
        return "true"
    if node is False:
        return "false"
    if isinstance(node, str):
        return json.dumps(node, ensure_ascii=False)
    if isinstance(node, int | Decimal):
        return str(node)
    if isinstance(node, list):
        return "[" + ", ".join(_write(i) for i in node) + "]"
    if isinstance(node, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}: {_write(v)}" for k, v in node.items())
        return "{" + ", ".join(items) + "}"
    raise MaskingError("unexpected JSON value")


def mask_json(engine: MaskEngine, text: str, data_type: str | None, method: str,
              mask_map: Mapping[str, str]) -> str:
    """The masked JSON text of ``text`` (valid JSON, same structure and keys)."""
    try:
        doc = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise MaskingError("value is not valid JSON") from None
    return _write(_Walker(engine, data_type, method, mask_map).walk(doc, ""))
