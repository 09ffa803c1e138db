"""Just enough of PostgreSQL's value formats (text and binary) to mask values in place.

Each binary decoder turns the wire bytes into the type's canonical text form and each
encoder goes back, so a value masks identically whichever format the client asked for.
Arrays: the text form (``{a,"b c",NULL}``, nested, with an optional ``[1:2]=`` bounds
prefix) and the binary form (header, dimensions, length-prefixed elements).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass

from veil.errors import MaskingError

PG_EPOCH = dt.date(2000, 1, 1)
PG_EPOCH_ORDINAL = PG_EPOCH.toordinal()
USEC_PER_DAY = 86_400_000_000
DATE_INF = (2**31 - 1, -(2**31))
TS_INF = (2**63 - 1, -(2**63))

# -- numeric -------------------------------------------------------------------------------

_NUMERIC_POS, _NUMERIC_NEG, _NUMERIC_NAN = 0x0000, 0x4000, 0xC000
_NUMERIC_SPECIAL = {0xC000: "NaN", 0xD000: "Infinity", 0xF000: "-Infinity"}


def numeric_from_binary(raw: bytes) -> str:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHH", raw)
    if sign in _NUMERIC_SPECIAL:
        return _NUMERIC_SPECIAL[sign]
    digits = struct.unpack_from(f"!{ndigits}h", raw, 8)
    int_groups = [f"{digits[i]:04d}" if 0 <= i < ndigits else "0000" for i in range(weight + 1)]
    int_part = "".join(int_groups).lstrip("0") or "0"
    frac = "".join(f"{digits[i]:04d}" if 0 <= i < ndigits else "0000"
                   for i in range(weight + 1, weight + 1 + (dscale + 3) // 4))
    frac = frac[:dscale].ljust(dscale, "0")
    text = int_part + ("." + frac if dscale else "")
    return ("-" if sign == _NUMERIC_NEG else "") + text


def numeric_to_binary(text: str) -> bytes:
    specials = {v: k for k, v in _NUMERIC_SPECIAL.items()}
    if text in specials:
        return struct.pack("!hhHH", 0, 0, specials[text], 0)
    sign = _NUMERIC_NEG if text.startswith("-") else _NUMERIC_POS
    body = text.lstrip("+-")
    int_part, _, frac = body.partition(".")
    dscale = len(frac)
    int_part = int_part.lstrip("0")
    pad_int = (-len(int_part)) % 4
    int_digits = "0" * pad_int + int_part
    frac_digits = frac + "0" * ((-len(frac)) % 4)
    groups = [int(int_digits[i : i + 4]) for i in range(0, len(int_digits), 4)]
    weight = len(groups) - 1
    groups += [int(frac_digits[i : i + 4]) for i in range(0, len(frac_digits), 4)]
    while groups and groups[0] == 0:  # leading zero groups lower the weight
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight, sign = 0, _NUMERIC_POS
    return struct.pack(f"!hhHH{len(groups)}h", len(groups), weight, sign, dscale, *groups)


# -- dates and times -----------------------------------------------------------------------

def date_from_days(days: int) -> dt.date:
    return dt.date.fromordinal(PG_EPOCH_ORDINAL + days)


def days_of(d: dt.date) -> int:
    return d.toordinal() - PG_EPOCH_ORDINAL


# -- inet / cidr ---------------------------------------------------------------------------

def inet_from_binary(raw: bytes, *, cidr: bool) -> str:
    family, bits, _is_cidr, nb = struct.unpack_from("!BBBB", raw)
    addr = ipaddress.ip_address(raw[4 : 4 + nb])
    full = 32 if family == 2 else 128
    if cidr or bits != full:
        return f"{addr}/{bits}"
    return str(addr)


def inet_to_binary(text: str, *, cidr: bool) -> bytes:
    addr_text, _, bits_text = text.partition("/")
    addr = ipaddress.ip_address(addr_text)
    full = addr.max_prefixlen
    bits = int(bits_text) if bits_text else full
    family = 2 if addr.version == 4 else 3
    return struct.pack("!BBBB", family, bits, 1 if cidr else 0, len(addr.packed)) + addr.packed


# -- arrays --------------------------------------------------------------------------------

_WS = " \t\n\r\v\f"  # array_in's notion of whitespace (ASCII only)

@dataclass
class TextArray:
    """A parsed text-format array: nested lists of str | None, plus the optional bounds prefix."""

    prefix: str
    items: list[object]


def parse_text_array(text: str) -> TextArray:
    prefix = ""
    if text.startswith("["):
        eq = text.find("=")
        if eq < 0:
            raise MaskingError("malformed array bounds")
        prefix, text = text[: eq + 1], text[eq + 1 :]
    pos, items = _parse_level(text, 0)
    if text[pos:].strip(_WS):
        raise MaskingError("trailing data after array")
    return TextArray(prefix, items)


def _parse_level(text: str, pos: int) -> tuple[int, list[object]]:
    if pos >= len(text) or text[pos] != "{":
        raise MaskingError("malformed array")
    pos += 1
    items: list[object] = []
    if pos < len(text) and text[pos] == "}":
        return pos + 1, items
    while True:
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        if pos >= len(text):
            raise MaskingError("unterminated array")
        ch = text[pos]
        if ch == "{":
            pos, sub = _parse_level(text, pos)
            items.append(sub)
        elif ch == '"':
            pos += 1
            buf = []
            while pos < len(text) and text[pos] != '"':
                if text[pos] == "\\":
                    pos += 1
                buf.append(text[pos])
                pos += 1
            pos += 1
            items.append("".join(buf))
        else:
            start = pos
            while pos < len(text) and text[pos] not in ",}":
                pos += 1
            raw = text[start:pos].strip(_WS)
            items.append(None if raw.upper() == "NULL" else raw)
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        if pos >= len(text):
            raise MaskingError("unterminated array")
        if text[pos] == ",":
            pos += 1
        elif text[pos] == "}":
            return pos + 1, items
        else:
            raise MaskingError("malformed array")


def _quote(element: str) -> str:
    if element == "" or element.upper() == "NULL" or any(c in element for c in '{}," \\\t\n\r\v\f'):
        return '"' + element.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return element


def write_text_array(arr: TextArray) -> str:
    def level(items: list[object]) -> str:
        parts = []
        for item in items:
            if isinstance(item, list):
                parts.append(level(item))
            elif item is None:
                parts.append("NULL")
            else:
                parts.append(_quote(str(item)))
        return "{" + ",".join(parts) + "}"

    return arr.prefix + level(arr.items)


def map_text_array(arr: TextArray, fn: Callable[[str], str | None]) -> TextArray:
    def level(items: list[object]) -> list[object]:
        return [level(i) if isinstance(i, list) else (None if i is None else fn(str(i))) for i in items]

    return TextArray(arr.prefix, level(arr.items))


def map_binary_array(raw: bytes, fn: Callable[[int, bytes], bytes | None]) -> bytes:
    """Apply ``fn(element_oid, element_bytes)`` to each non-NULL element of a binary array."""
    ndim, _flags, elem_oid = struct.unpack_from("!iiI", raw)
    if ndim < 0 or ndim > 6:
        raise MaskingError("malformed binary array")
    pos = 12
    dims = raw[pos : pos + 8 * ndim]
    count = 1
    for i in range(ndim):
        count *= struct.unpack_from("!i", dims, 8 * i)[0]
    pos += 8 * ndim
    out = []
    has_null = False
    for _ in range(count if ndim else 0):
        (length,) = struct.unpack_from("!i", raw, pos)
        pos += 4
        if length > len(raw) - pos:
            raise MaskingError("malformed binary array")
        if length < 0:
            out.append(b"\xff\xff\xff\xff")
            has_null = True
            continue
        masked = fn(elem_oid, raw[pos : pos + length])
        pos += length
        if masked is None:
            out.append(b"\xff\xff\xff\xff")
            has_null = True
        else:
            out.append(struct.pack("!i", len(masked)) + masked)
    if pos != len(raw):
        raise MaskingError("malformed binary array")
    return struct.pack("!iiI", ndim, 1 if has_null else 0, elem_oid) + dims + b"".join(out)


def map_binary_record(raw: bytes, fn: Callable[[int, bytes], bytes | None]) -> bytes:
    """Apply ``fn(field_oid, field_bytes)`` to each non-NULL field of a binary composite (record)."""
    (count,) = struct.unpack_from("!i", raw)
    if count < 0 or count > 1600:  # PostgreSQL's column limit
        raise MaskingError("malformed binary record")
    pos = 4
    out = [raw[:4]]
    for _ in range(count):
        oid, length = struct.unpack_from("!Ii", raw, pos)
        pos += 8
        if length < 0:
            out.append(struct.pack("!Ii", oid, -1))
            continue
        if pos + length > len(raw):
            raise MaskingError("malformed binary record")
        masked = fn(oid, raw[pos : pos + length])
        pos += length
        out.append(struct.pack("!Ii", oid, -1) if masked is None
                   else struct.pack("!Ii", oid, len(masked)) + masked)
    if pos != len(raw):
        raise MaskingError("malformed binary record")
    return b"".join(out)
