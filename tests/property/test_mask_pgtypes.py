"""mask_pg over generated values: it never raises on valid input, and its output decodes as the type."""

from __future__ import annotations

import datetime as dt
import json
import struct
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from veil.mask import pgcodec as C
from veil.mask.engine import MaskEngine
from veil.mask.keys import Keyring

ENGINE = MaskEngine(Keyring.generate())
MAP = {"default": "pseudonymize", "credit_card": "partial"}
METHODS = st.sampled_from(["pseudonymize", "partial", "redact", "hash", "generalize", "tokenize"])
TYPES = st.sampled_from([None, "email", "us_ssn", "credit_card", "phone", "person_name", "health", "iban"])
SETTINGS = settings(max_examples=120, deadline=None)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)


def _mask(data_type, method, oid, fmt, raw):
    return ENGINE.mask_pg(data_type, method, oid, fmt, raw, mask_map=MAP)


@SETTINGS
@given(TEXT, TYPES, METHODS, st.sampled_from([25, 1043, 1042]), st.sampled_from([0, 1]))
def test_text_types(value, data_type, method, oid, fmt):
    out = _mask(data_type, method, oid, fmt, value.encode())
    assert out is None or isinstance(out.decode("utf-8"), str)


@SETTINGS
@given(st.sampled_from([(21, "!h", 2**15), (23, "!i", 2**31), (20, "!q", 2**63)]), st.data(), TYPES, METHODS,
       st.sampled_from([0, 1]))
def test_integers_stay_in_range(spec, data, data_type, method, fmt):
    oid, pack, bound = spec
    n = data.draw(st.integers(-bound, bound - 1))
    raw = struct.pack(pack, n) if fmt else str(n).encode()
    out = _mask(data_type, method, oid, fmt, raw)
    if out is not None:
        value = struct.unpack(pack, out)[0] if fmt else int(out)
        assert -bound <= value < bound


@SETTINGS
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**20, max_value=10**20, places=3),
       TYPES, METHODS, st.sampled_from([0, 1]))
def test_numeric_keeps_its_scale(value, data_type, method, fmt):
    text = format(value, "f")
    raw = C.numeric_to_binary(text) if fmt else text.encode()
    out = _mask(data_type, method, 1700, fmt, raw)
    if out is not None:
        back = C.numeric_from_binary(out) if fmt else out.decode()
        assert back.partition(".")[2].__len__() == text.partition(".")[2].__len__()


@SETTINGS
@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)), TYPES, METHODS,
       st.sampled_from([0, 1]))
def test_dates(value, data_type, method, fmt):
    raw = struct.pack("!i", C.days_of(value)) if fmt else value.isoformat().encode()
    out = _mask(data_type, method, 1082, fmt, raw)
    if out is not None:
        if fmt:
            C.date_from_days(struct.unpack("!i", out)[0])
        else:
            dt.date.fromisoformat(out.decode())


@SETTINGS
@given(st.uuids(), METHODS, st.sampled_from([0, 1]))
def test_uuids_are_v4_shaped(value, method, fmt):
    raw = value.bytes if fmt else str(value).encode()
    assert _mask(None, method, 2950, fmt, raw) == raw  # scan mode: a uuid carries nothing to find
    out = _mask("national_id", method, 2950, fmt, raw)  # a column tagged sensitive
    new = uuid.UUID(bytes=out) if fmt else uuid.UUID(out.decode())
    assert new.int == 0 or new.version == 4


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**18, 10**18) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12)


def _shape(node):
    if isinstance(node, dict):
        return {"dict": [_shape(v) for v in node.values()], "n": len(node)}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return "scalar"


@SETTINGS
@given(json_values, st.sampled_from([114, 3802]), st.sampled_from([0, 1]))
def test_json_keeps_its_structure(doc, oid, fmt):
    body = json.dumps(doc).encode()
    raw = b"\x01" + body if (oid == 3802 and fmt) else body
    out = _mask(None, "pseudonymize", oid, fmt, raw)
    text = out[1:] if (oid == 3802 and fmt) else out
    masked = json.loads(text)
    assert _shape(masked) == _shape(doc) or isinstance(doc, dict)  # masked keys may merge in a dict
    assert type(masked) is type(doc) or doc is None or isinstance(doc, bool | int)


@SETTINGS
@given(st.lists(st.one_of(st.none(), TEXT), max_size=5), st.sampled_from([0, 1]), TYPES)
def test_text_arrays(items, fmt, data_type):
    if fmt:
        body = b"".join(struct.pack("!i", -1) if i is None
                        else struct.pack("!i", len(i.encode())) + i.encode() for i in items)
        dims = struct.pack("!ii", len(items), 1) if items else b""
        raw = struct.pack("!iiI", 1 if items else 0, 0, 25) + dims + body
    else:
        raw = C.write_text_array(C.TextArray("", list(items))).encode()
    out = _mask(data_type, "pseudonymize", 1009, fmt, raw)
    if fmt:
        assert C.map_binary_array(out, lambda oid, b: b) == out
    else:
        assert len(C.parse_text_array(out.decode()).items) == len(items)
