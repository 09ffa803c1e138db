import struct
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import MaskingError
from veil.mask import pgcodec as C


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e30"),
                   max_value=Decimal("1e30")))
def test_numeric_binary_round_trip(value):
    text = format(value, "f")
    if text in ("-0", "0") or (text.startswith("-0.") and set(text[3:]) <= {"0"}):
        text = text.lstrip("-")
    back = C.numeric_from_binary(C.numeric_to_binary(text))
    assert Decimal(back) == Decimal(text)
    frac = text.partition(".")[2]
    assert back.partition(".")[2] == frac  # scale kept


def test_numeric_known_encoding():
    # 123.45 = digits [123, 4500], weight 0, scale 2 (as PostgreSQL's numeric_send)
    assert C.numeric_to_binary("123.45") == struct.pack("!hhHH2h", 2, 0, 0, 2, 123, 4500)
    assert C.numeric_from_binary(struct.pack("!hhHH1h", 1, -2, 0x4000, 5, 1000)) == "-0.00001"
    assert C.numeric_from_binary(C.numeric_to_binary("NaN")) == "NaN"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                                   blacklist_characters="\x00"))),
                max_size=6))
def test_text_array_round_trip(items):
    arr = C.TextArray("", list(items))
    assert C.parse_text_array(C.write_text_array(arr)).items == items


def test_text_array_nested_bounds_and_errors():
    arr = C.parse_text_array('[0:1]={{a,"b c"},{NULL,"NULL"}}')
    assert arr.prefix == "[0:1]=" and arr.items == [["a", "b c"], [None, "NULL"]]
    assert C.write_text_array(arr) == '[0:1]={{a,"b c"},{NULL,"NULL"}}'
    for bad in ("{a,b", "a,b}", "{a}x", "[1:2"):
        with pytest.raises(MaskingError):
            C.parse_text_array(bad)


def test_binary_array_and_record_reject_garbage():
    with pytest.raises(MaskingError):
        C.map_binary_array(struct.pack("!iiI", 1, 0, 25) + struct.pack("!ii", 2, 1) + struct.pack("!i", 99),
                           lambda oid, b: b)
    with pytest.raises((MaskingError, struct.error)):
        C.map_binary_record(struct.pack("!i", 1) + struct.pack("!Ii", 25, 50) + b"short", lambda oid, b: b)
    rec = struct.pack("!i", 2) + struct.pack("!Ii", 25, 3) + b"abc" + struct.pack("!Ii", 23, -1)
    assert C.map_binary_record(rec, lambda oid, b: b.upper()) == \
        struct.pack("!i", 2) + struct.pack("!Ii", 25, 3) + b"ABC" + struct.pack("!Ii", 23, -1)
