"""Type-preserving masking of PostgreSQL wire values, by type OID and format code.

A masked value must always parse as its column's type in the format the client asked
for: a masked int4 is an int4, a masked date a date, a masked jsonb the same document
shape.  Each supported OID has a handler that decodes to the canonical text form, masks
there (so text and binary results agree), and encodes back.  Where a valid masked value
cannot exist the handler returns a fixed valid value of the type (``redact``) or NULL;
anything it cannot decode raises ``MaskingError`` so the statement fails closed.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from veil.errors import MaskingError
from veil.mask import pgcodec as C
from veil.mask.base import keyed_like
from veil.mask.formats import dates, ip, network
from veil.mask.jsonmask import mask_json

if TYPE_CHECKING:
    from veil.mask.engine import MaskEngine

TEXT_OIDS = frozenset({25, 1043, 1042, 19, 705})
INT_OIDS = {21: ("!h", 2**15 - 1), 23: ("!i", 2**31 - 1), 20: ("!q", 2**63 - 1), 26: ("!I", 2**32 - 1)}
FLOAT_OIDS = {700: "!f", 701: "!d"}
NUMERIC, BOOL, BYTEA, UUID = 1700, 16, 17, 2950
DATE, TIMESTAMP, TIMESTAMPTZ, TIME, TIMETZ = 1082, 1114, 1184, 1083, 1266
INET, CIDR, MACADDR, JSON, JSONB = 869, 650, 829, 114, 3802
#: array OID -> element OID
ARRAY_OF = {
    1009: 25, 1015: 1043, 1014: 1042, 1003: 19, 1005: 21, 1007: 23, 1016: 20, 1028: 26, 1021: 700,
    1022: 701, 1231: 1700, 1182: 1082, 1115: 1114, 1185: 1184, 1183: 1083, 1270: 1266, 2951: 2950,
    1041: 869, 651: 650, 1040: 829, 199: 114, 3807: 3802, 1001: 17, 1000: 16,
}
#: in scan mode (no type known) these values carry nothing a scanner could find
SCAN_KEEPS = frozenset({BOOL, TIME, TIMETZ, DATE, TIMESTAMP, TIMESTAMPTZ, UUID, 700, 701})
#: longest number a digit masker gets (Python's default int/str conversion limit, which bounds it anyway)
MAX_MASK_DIGITS = 4300
#: data types whose values are digit strings, so they fit into number columns
DIGIT_TYPES = frozenset({"credit_card", "us_ssn", "phone", "national_id", "tax_id", "bank_account",
                         "medical_record_number", "passport"})
_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)([ T][0-9:.]+)?([+-]\d\d(?::?\d\d){0,2})?$")


@dataclass(frozen=True, slots=True)
class Job:
    """One masking request: the engine, what the value is, how to mask it, and the mask map."""

    engine: MaskEngine
    data_type: str | None
    method: str
    mask_map: Mapping[str, str]

    def typed_as(self, data_type: str) -> Job | None:
        """Scan mode found what a value is: mask it as that type (None when its method is ``none``)."""
        method = self.engine.resolve_method(data_type, self.mask_map)
        return None if method == "none" else Job(self.engine, data_type, method, self.mask_map)

    def scan_number(self, text: str) -> Job | None:
        """Scan mode for a number: the type the scanner sees in its digits, or None (clean)."""
        findings = self.engine.scanner.scan(text)
        return self.typed_as(findings[0].type) if findings else None

    def value(self, text: str) -> str | None:
        """Mask a text form: typed value, or free text scanned and span-masked."""
        if self.data_type is None:
            return self.engine.scan_and_mask(text, self.mask_map)
        return self.engine.mask_value(self.data_type, self.method, text)


Handler = Callable[[Job, int, bytes], bytes | None]


def _text(job: Job, fmt: int, raw: bytes) -> bytes | None:
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        return b"[REDACTED]"
    masked = job.value(value)
    return None if masked is None else masked.encode("utf-8")


def _unknown(job: Job, fmt: int, raw: bytes) -> bytes | None:
    """A type without a handler (composites, enums, citext, arrays of those...).

    Its text form reaches the client as a string: mask it as text.  In binary, arrays and
    composite rows describe their element/field types themselves, so they are rebuilt
    element by element; any other binary value we cannot rebuild validly: a typed column
    gets NULL, a scanned one keeps its bytes only when nothing sensitive is found in them.
    """
    if fmt == 0:
        return _text(job, fmt, raw)
    inner = functools.partial(_scalar, job, fmt=1)
    for parse in (C.map_binary_array, C.map_binary_record):
        try:
            return parse(raw, lambda oid, b: inner(oid, raw=b))
        except (MaskingError, struct.error, ValueError, IndexError, UnicodeDecodeError, OverflowError):
            continue  # not that structure (or not rebuildable): the byte scan below decides
    if job.data_type is not None:
        return None
    return None if job.engine.scanner.scan(raw.decode("utf-8", "replace")) else raw


# -- numbers -------------------------------------------------------------------------------

def _keyed_digits(job: Job, digits: str) -> str:
    """Same count of digits, keyed; no new leading zero."""
    s = job.engine.context.stream(f"pseudonymize/number/{job.data_type or ''}", digits)
    out = keyed_like(s, digits)
    if len(out) > 1 and out[0] == "0":
        out = str(1 + int(out[0]) + s.below(9))[-1] + out[1:]
        if out[0] == "0":
            out = "1" + out[1:]
    return out


def _check_digits(count: int) -> None:
    """Refuse numbers too long to mask in bounded time (fail closed, the value is never quoted).

    The digit maskers are super-linear in the digit count, and a binary numeric's weight
    expands a few bytes into up to 131,072 digits (found by bench/fuzz.py: 137 bytes took
    3.3 s of CPU).  Beyond Python's int/str conversion limit this module failed anyway
    (ValueError), only after the expensive part.
    """
    if count > MAX_MASK_DIGITS:
        raise MaskingError(f"a number of more than {MAX_MASK_DIGITS} digits cannot be masked")


def _mask_integer_text(job: Job, text: str, limit: int) -> str | None:
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    _check_digits(len(digits))
    if job.method == "redact":
        return "0"
    if job.method == "generalize":
        step = 10 ** (len(digits) - 1)
        return sign + str(int(digits) // step * step)
    if job.data_type in DIGIT_TYPES:
        masked = job.engine.mask_value(job.data_type, job.method, digits)
        if masked is None:
            return None
        only = re.sub(r"\D", "", masked.replace("*", "0"))
        out = only if only else "0"
    else:
        out = _keyed_digits(job, digits)
    n = int(out)
    if n > limit:
        n %= limit + 1
    return sign + str(n) if n else "0"


def _int_handler(oid: int) -> Handler:
    pack, limit = INT_OIDS[oid]

    def handler(job: Job, fmt: int, raw: bytes) -> bytes | None:
        text = str(struct.unpack(pack, raw)[0]) if fmt else raw.decode("ascii").strip()
        if not re.fullmatch(r"-?\d+", text):
            raise MaskingError("malformed integer value")
        if job.data_type is None:
            found = job.scan_number(text)
            if found is None:
                return raw
            job = found
        masked = _mask_integer_text(job, text, limit)
        if masked is None:
            return None
        if oid == 26 and masked.startswith("-"):
            masked = masked[1:]
        return struct.pack(pack, int(masked)) if fmt else masked.encode("ascii")

    return handler


def _numeric(job: Job, fmt: int, raw: bytes) -> bytes | None:
    text = C.numeric_from_binary(raw) if fmt else raw.decode("ascii").strip()
    if text in ("NaN", "Infinity", "-Infinity"):
        return raw
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d*))?", text)
    if m is None:
        raise MaskingError("malformed numeric value")
    if job.data_type is None:
        found = job.scan_number(text)
        if found is None:
            return raw
        job = found
    sign, int_part, frac = m[1], m[2], m[3]
    if job.method != "redact":
        _check_digits(len(int_part) + len(frac or ""))
    if job.method == "redact":
        masked = "0" + ("." + "0" * len(frac) if frac is not None else "")
    elif job.method == "generalize":
        step = 10 ** (len(int_part.lstrip("0") or "0") - 1)
        scale = "." + "0" * len(frac) if frac is not None else ""
        masked = sign + str(int(int_part) // step * step) + scale
    else:
        if frac is None or set(frac) <= {"0"}:
            whole = _mask_integer_text(job, sign + int_part, 10**1000)
            if whole is None:
                return None
            masked = whole + ("." + frac if frac is not None else "")
        else:
            masked = sign + _keyed_digits(job, int_part) + "." + _keyed_digits(job, frac)
    return C.numeric_to_binary(masked) if fmt else masked.encode("ascii")


def _float(pack: str) -> Handler:
    def handler(job: Job, fmt: int, raw: bytes) -> bytes | None:
        value = struct.unpack(pack, raw)[0] if fmt else float(raw.decode("ascii"))
        if value != value or value in (float("inf"), float("-inf")):
            return raw
        if job.method in ("redact", "generalize") or job.data_type is None:
            masked = 0.0 if job.method == "redact" else float(f"{value:.1g}")
        else:
            text = repr(value)
            mantissa, e, exp = text.partition("e")
            stream = job.engine.context.stream("pseudonymize/float", text)
            masked = float(keyed_like(stream, mantissa) + e + exp)
        return struct.pack(pack, masked) if fmt else repr(masked).encode("ascii")

    return handler


# -- dates and times -----------------------------------------------------------------------

def _shift(job: Job, d: dt.date) -> dt.date:
    if job.method in ("generalize", "partial") or (job.method == "pseudonymize" and job.data_type is None):
        return dt.date(d.year, 1, 1)
    if job.method == "redact":
        return dt.date(1900, 1, 1)
    days = dates.shift_days(job.engine.context, f"pseudonymize/{job.data_type or 'date'}", d.isoformat())
    try:
        return d + dt.timedelta(days=days)
    except OverflowError:
        return d - dt.timedelta(days=days)


def _date(job: Job, fmt: int, raw: bytes) -> bytes | None:
    if fmt:
        (days,) = struct.unpack("!i", raw)
        if days in C.DATE_INF:
            return raw
        return struct.pack("!i", C.days_of(_shift(job, C.date_from_days(days))))
    text = raw.decode("ascii")
    if text in ("infinity", "-infinity"):
        return raw
    m = _TS.match(text)
    if m is None:  # BC dates, non-ISO DateStyle: a fixed valid date
        return b"1900-01-01"
    d = _shift(job, dt.date(int(m[1]), int(m[2]), int(m[3])))
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}".encode("ascii")


def _timestamp(job: Job, fmt: int, raw: bytes) -> bytes | None:
    if fmt:
        (usec,) = struct.unpack("!q", raw)
        if usec in C.TS_INF:
            return raw
        days, rest = divmod(usec, C.USEC_PER_DAY)
        new = _shift(job, C.date_from_days(days))
        keep_time = job.method not in ("generalize", "partial", "redact") and job.data_type is not None
        return struct.pack("!q", C.days_of(new) * C.USEC_PER_DAY + (rest if keep_time else 0))
    text = raw.decode("ascii")
    if text in ("infinity", "-infinity"):
        return raw
    m = _TS.match(text)
    if m is None:
        return b"1900-01-01 00:00:00"
    d = _shift(job, dt.date(int(m[1]), int(m[2]), int(m[3])))
    keep_time = job.method not in ("generalize", "partial", "redact") and job.data_type is not None
    clock = (m[4] or " 00:00:00") if keep_time else " 00:00:00"
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}{clock}{m[5] or ''}".encode("ascii")


def _time(job: Job, fmt: int, raw: bytes) -> bytes | None:
    if fmt:
        return b"\x00" * 8 + raw[8:]  # midnight; timetz keeps its zone offset
    text = raw.decode("ascii")
    zone = re.search(r"[+-]\d\d(:?\d\d){0,2}$", text)
    return ("00:00:00" + (zone.group() if zone else "")).encode("ascii")


# -- identifiers and addresses -------------------------------------------------------------

def _uuid(job: Job, fmt: int, raw: bytes) -> bytes | None:
    value = uuid.UUID(bytes=raw) if fmt else uuid.UUID(raw.decode("ascii"))
    if job.method in ("redact", "generalize"):
        new = uuid.UUID(int=0)
    else:
        b = bytearray(job.engine.context.stream("pseudonymize/uuid", str(value)).take(16))
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        new = uuid.UUID(bytes=bytes(b))
    return new.bytes if fmt else str(new).encode("ascii")


def _inet_handler(cidr: bool) -> Handler:
    def handler(job: Job, fmt: int, raw: bytes) -> bytes | None:
        text = C.inet_from_binary(raw, cidr=cidr) if fmt else raw.decode("ascii")
        if job.data_type is None:  # an inet value is an IP address whatever its column is called
            found = job.typed_as("ip_address")
            if found is None:
                return raw
            job = found
        addr, prefix = ip.split_prefix(text)
        if job.method == "redact":
            zero = "0.0.0.0" if ":" not in addr else "::"
            masked: str | None = f"{zero}/{prefix}" if prefix is not None else zero
        elif job.method in ("generalize", "partial"):
            masked = ip.generalize(text, cidr=cidr)
        else:
            masked = ip.pseudonymize(job.engine.context, text, cidr=cidr)
        if masked is None:
            raise MaskingError("malformed inet value")
        return C.inet_to_binary(masked, cidr=cidr) if fmt else masked.encode("ascii")

    return handler


def _macaddr(job: Job, fmt: int, raw: bytes) -> bytes | None:
    text = ":".join(f"{b:02x}" for b in raw) if fmt else raw.decode("ascii")
    if job.data_type is None:
        found = job.typed_as("mac_address")
        if found is None:
            return raw
        job = found
    if job.method == "redact":
        masked = "00:00:00:00:00:00"
    elif job.method in ("generalize", "partial"):
        masked = network.mac_partial(text).replace("*", "0")
    else:
        masked = network.mac(job.engine.context, text)
    return bytes.fromhex(masked.replace(":", "")) if fmt else masked.encode("ascii")


def _json_handler(jsonb: bool) -> Handler:
    def handler(job: Job, fmt: int, raw: bytes) -> bytes | None:
        body = raw[1:] if (jsonb and fmt) else raw
        if jsonb and fmt and raw[:1] != b"\x01":
            raise MaskingError("unsupported jsonb binary version")
        masked = mask_json(job.engine, body.decode("utf-8"), job.data_type, job.method, job.mask_map)
        return (b"\x01" if (jsonb and fmt) else b"") + masked.encode("utf-8")

    return handler


def _bytea(job: Job, fmt: int, raw: bytes) -> bytes | None:
    if job.data_type is None:  # scan mode: ``convert_to(ssn, 'UTF8')`` is still an SSN
        data = raw
        if not fmt and raw.startswith(b"\\x"):
            try:
                data = bytes.fromhex(raw[2:].decode("ascii"))
            except ValueError:
                data = raw
        text = data.decode("utf-8", "replace")
        if not job.engine.scanner.has_candidates(text) or not job.engine.scanner.scan(text):
            return raw
    return b"" if fmt else b"\\x"


def _bool(job: Job, fmt: int, raw: bytes) -> bytes | None:
    # Any masking of a boolean (a tagged health flag...) can only hide it: NULL, never a false value.
    return None


HANDLERS: dict[int, Handler] = {
    **{oid: _text for oid in TEXT_OIDS},
    **{oid: _int_handler(oid) for oid in INT_OIDS},
    **{oid: _float(pack) for oid, pack in FLOAT_OIDS.items()},
    NUMERIC: _numeric, DATE: _date, TIMESTAMP: _timestamp, TIMESTAMPTZ: _timestamp,
    TIME: _time, TIMETZ: _time, UUID: _uuid, INET: _inet_handler(False), CIDR: _inet_handler(True),
    MACADDR: _macaddr, JSON: _json_handler(False), JSONB: _json_handler(True), BYTEA: _bytea, BOOL: _bool,
}


def _scalar(job: Job, oid: int, *, fmt: int, raw: bytes) -> bytes | None:
    if job.method == "null":
        return None
    if job.data_type is None and oid in SCAN_KEEPS:
        return raw
    return HANDLERS.get(oid, _unknown)(job, fmt, raw)


def _array(job: Job, oid: int, fmt: int, raw: bytes) -> bytes | None:
    elem = ARRAY_OF[oid]
    if fmt:
        return C.map_binary_array(raw, lambda elem_oid, b: _scalar(job, elem_oid, fmt=1, raw=b))

    def one(text: str) -> str | None:
        out = _scalar(job, elem, fmt=0, raw=text.encode("utf-8"))
        return None if out is None else out.decode("utf-8")

    return C.write_text_array(C.map_text_array(C.parse_text_array(raw.decode("utf-8")), one)).encode("utf-8")


def mask_pg(engine: MaskEngine, data_type: str | None, method: str, type_oid: int, fmt: int, raw: bytes,
            mask_map: Mapping[str, str]) -> bytes | None:
    """See ``MaskEngine.mask_pg``."""
    if method == "null":
        return None
    job = Job(engine, data_type, method, mask_map)
    try:
        if type_oid in ARRAY_OF:
            return _array(job, type_oid, fmt, raw)
        return _scalar(job, type_oid, fmt=fmt, raw=raw)
    except MaskingError:
        raise
    # RecursionError: json/jsonb nested deeper than the parser's recursion limit (found by bench/fuzz.py)
    except (ValueError, struct.error, UnicodeDecodeError, IndexError, OverflowError, RecursionError) as exc:
        raise MaskingError(f"cannot mask a value of type oid {type_oid} "
                           f"({'binary' if fmt else 'text'} format): {type(exc).__name__}") from None
