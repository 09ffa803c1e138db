"""The masking hot path's DataRow reader and writer agree with the codec, and reject what it rejects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.errors import RemoteProtocolError
from veil.wire.pg import messages as m
from veil.wire.pg.readers import data_row_values
from veil.wire.pg.writers import data_row

VALUES = st.lists(st.one_of(st.none(), st.binary(max_size=40)), max_size=12)


@given(VALUES)
def test_same_bytes_and_values_as_the_codec(values: list[bytes | None]) -> None:
    raw = m.DataRow(tuple(values)).encode()
    assert data_row(values) == raw
    assert data_row_values(raw) == values


@pytest.mark.parametrize("raw", [
    b"D\x00\x00\x00\x06\x00",  # too short for a count
    b"D\x00\x00\x00\x0a\x00\x01\x00\x00\x00\x05ab",  # value runs past the message
    b"D\x00\x00\x00\x0a\x00\x01\xff\xff\xff\xfe",  # negative length other than -1
    b"D\x00\x00\x00\x0b\x00\x01\xff\xff\xff\xffX",  # trailing byte
    b"D\x00\x00\x00\x06\x00\x02",  # count says two, nothing follows
])
def test_malformed_rows_raise_the_typed_error(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        data_row_values(raw)
