"""``data_row_starts``: the offsets the masking splice path reads, sound for any row the codec accepts."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.errors import RemoteProtocolError
from veil.wire.pg.readers import data_row_starts, data_row_values
from veil.wire.pg.writers import data_row

VALUES = st.lists(st.one_of(st.none(), st.binary(max_size=40)), max_size=12)


@given(VALUES)
def test_offsets_point_at_each_values_length_word(values: list[bytes | None]) -> None:
    raw = data_row(values)
    starts = data_row_starts(raw)
    assert len(starts) == len(values)
    for pos, value in zip(starts, values, strict=True):
        (size,) = struct.unpack_from("!i", raw, pos)
        assert (None if size == -1 else raw[pos + 4 : pos + 4 + size]) == value
    assert data_row_values(raw) == values


@pytest.mark.parametrize("raw", [
    b"D\x00\x00\x00\x06\x00",  # too short for a count
    b"D\x00\x00\x00\x0a\x00\x01\x00\x00\x00\x05ab",  # value runs past the message
    b"D\x00\x00\x00\x0a\x00\x01\xff\xff\xff\xfe",  # negative length other than -1
    b"D\x00\x00\x00\x0b\x00\x01\xff\xff\xff\xffX",  # trailing byte
    b"D\x00\x00\x00\x06\x00\x02",  # count says two, nothing follows
    b"D\x00\x00\x00\x08\x00\x01\x00\x00",  # length word cut short
])
def test_malformed_rows_are_rejected(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        data_row_starts(raw)
