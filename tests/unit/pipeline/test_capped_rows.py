"""Caps on the relay's splice path: bytes counted from the DataRow message without splitting it."""

from __future__ import annotations

import pytest

from veil.errors import PolicyDenied, RemoteProtocolError, VeilError
from veil.pipeline.service import ResultCap, _CappedRows
from veil.values import Decision, MaskProvenance
from veil.wire.pg.writers import data_row


class Upper:
    """A RowMasker without the splice path: the capped masker must split, mask and re-encode."""

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        return [v.upper() if v is not None else None for v in values]

    def provenance(self) -> list[MaskProvenance]:
        return []


def capped(inner: Upper | None, **caps: int) -> tuple[_CappedRows, ResultCap]:
    cap = ResultCap(Decision(allowed=True, policy="p", access="read-only", **caps))  # type: ignore[arg-type]
    return _CappedRows(inner, cap), cap


def test_bytes_are_the_value_sizes_and_nulls_count_nothing() -> None:
    rows, cap = capped(None, max_bytes=1000)
    message = data_row([b"abc", None, b"", b"hello"])
    assert rows.mask_data_row(message) is message  # nothing to mask: the same bytes go on
    assert (cap.rows, cap.bytes) == (1, 8)


def test_the_cap_trips_on_the_row_that_crosses_it() -> None:
    rows, _ = capped(None, max_bytes=10)
    rows.mask_data_row(data_row([b"12345"]))
    rows.mask_data_row(data_row([b"12345"]))
    with pytest.raises(PolicyDenied, match="max_bytes 10"):
        rows.mask_data_row(data_row([b"1"]))


def test_an_inner_masker_without_splice_still_masks() -> None:
    rows, _ = capped(Upper(), max_rows=5)
    assert rows.mask_data_row(data_row([b"ab", None])) == data_row([b"AB", None])


def test_a_malformed_row_fails_closed_even_with_nothing_to_mask() -> None:
    rows, _ = capped(None, max_rows=5)
    bad = data_row([b"abc"])[:-1]  # the value is one byte short of its length word
    with pytest.raises((RemoteProtocolError, VeilError)):
        rows.mask_data_row(bad)
