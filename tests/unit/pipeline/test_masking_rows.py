"""The DataRow splice path (``mask_data_row``) and the plan caches behind it.

It must give exactly what the value-list path gives, count exactly what it masked
(row-cache hits included), keep memory within its byte budget, never share a cached
output between two mask maps or two keys, and fail closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import MaskingError, VeilError
from veil.mask.engine import CACHE_MAX_VALUE, MaskEngine
from veil.mask.keys import Keyring
from veil.pipeline.masking import ROW_CACHE_MAX, MaskPlanner
from veil.values import ColumnInfo, Decision
from veil.wire.pg.readers import data_row_values
from veil.wire.pg.writers import data_row

PSEUDO = Decision(True, "agents", mask=(("default", "pseudonymize"),))
REDACT = Decision(True, "contractors", mask=(("default", "redact"),))
SHAPE = [ColumnInfo("id", 23), ColumnInfo("email", 25), ColumnInfo("status", 25), ColumnInfo("ssn", 25),
         ColumnInfo("note", 25), ColumnInfo("n", 23, table="public.t", column="ssn")]
TAGS = {"public.t.ssn": "us_ssn"}


def planner(**kwargs: object) -> MaskPlanner:
    return MaskPlanner(MaskEngine(Keyring.generate()), column_tags=TAGS, **kwargs)  # type: ignore[arg-type]


def row(i: int, *, email: bytes | None = None, note: bytes = b"all good") -> list[bytes | None]:
    return [b"%d" % i, email if email is not None else b"user%d@acme.org" % i, b"paid",
            b"123-45-%04d" % i, note, None]


def list_path(masker: object, values: list[bytes | None]) -> bytes:
    return data_row(masker.mask_row(values))  # type: ignore[attr-defined]


@pytest.mark.parametrize("row_cache", [True, False])
def test_splice_gives_the_bytes_of_the_value_list_path(row_cache: bool) -> None:
    p = planner(row_cache=row_cache)
    rows = [row(i) for i in range(50)] + [row(7, note=b"mail ana@acme.org now")] + \
        [[None, None, None, None, None, None], [b"1", b"", b"", b"", b"", None]]
    for values in rows * 2:  # the second round comes from the caches
        assert p.plan(PSEUDO, SHAPE).mask_data_row(data_row(values)) == \
            list_path(p.plan(PSEUDO, SHAPE), values)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=30), st.sampled_from([b"ana@acme.org", b"paid"])),
                min_size=6, max_size=6))
def test_splice_matches_for_arbitrary_values(values: list[bytes | None]) -> None:
    p = planner()
    shape = [*SHAPE[:5], ColumnInfo("extra", 25)]
    try:
        expected = list_path(p.plan(PSEUDO, shape), values)
    except VeilError:
        with pytest.raises(VeilError):
            p.plan(PSEUDO, shape).mask_data_row(data_row(values))
        return
    assert p.plan(PSEUDO, shape).mask_data_row(data_row(values)) == expected
    assert data_row_values(expected)[0] == values[0]  # untouched fields are spliced through


def test_a_row_with_nothing_to_mask_is_forwarded_as_is() -> None:
    masker = planner().plan(PSEUDO, [ColumnInfo("id", 23), ColumnInfo("status", 25)])
    raw = data_row([b"1", b"paid"])
    assert masker.mask_data_row(raw) is raw
    assert masker.mask_data_row(raw) is raw  # from the row cache
    assert [p.count for p in masker.provenance()] == [0]


def test_counts_stay_exact_with_row_cache_hits_and_folding() -> None:
    p = planner()
    masker = p.plan(PSEUDO, SHAPE)
    raw = data_row(row(1))
    for _ in range(10):
        masker.mask_data_row(raw)
    counts = {prov.column: prov.count for prov in masker.provenance()}
    assert (counts["email"], counts["ssn"], counts["status"], counts["note"]) == (10, 10, 0, 0)
    other = p.plan(PSEUDO, SHAPE)  # a new request: its own counts, the shared caches
    other.mask_data_row(raw)
    assert {prov.column: prov.count for prov in other.provenance()}["email"] == 1


def test_counts_stay_exact_when_many_change_patterns_fold() -> None:
    wide = [ColumnInfo(f"email{k}", 25) for k in range(10)]
    masker = planner().plan(PSEUDO, wide)
    # 1024 NULL patterns: more distinct changed-column patterns than a masker tallies before folding
    rows = [data_row([b"u%d@acme.org" % k if i >> k & 1 else None for k in range(10)]) for i in range(1024)]
    for raw in rows * 2:
        masker.mask_data_row(raw)
    assert [prov.count for prov in masker.provenance()] == [2 * 512] * 10


def test_two_mask_maps_and_two_keys_never_share_a_cached_value() -> None:
    p = planner()
    raw = data_row(row(3))
    pseudo = p.plan(PSEUDO, SHAPE).mask_data_row(raw)
    redact = p.plan(REDACT, SHAPE).mask_data_row(raw)
    assert pseudo != redact and b"[REDACTED]" in redact and b"[REDACTED]" not in pseudo
    assert p.plan(PSEUDO, SHAPE).mask_data_row(raw) == pseudo  # warm, same answer
    assert planner().plan(PSEUDO, SHAPE).mask_data_row(raw) != pseudo  # another key


def test_memory_stays_within_the_byte_budget() -> None:
    budget = 20_000
    p = planner(cache_bytes=budget)
    masker = p.plan(PSEUDO, SHAPE)
    for i in range(2_000):
        masker.mask_data_row(data_row(row(i)))
        assert p.budget.used <= budget
    assert p.budget.flushes > 0
    assert {prov.column: prov.count for prov in masker.provenance()}["email"] == 2_000


def test_a_zero_budget_caches_nothing() -> None:
    p = planner(cache_bytes=0)
    masker = p.plan(PSEUDO, SHAPE)
    raw = data_row(row(1))
    assert masker.mask_data_row(raw) == masker.mask_data_row(raw)
    assert p.budget.used == 0 and not masker._compiled.rows
    assert all(not step[2] for step in masker._compiled.steps)


def test_long_values_and_rows_bypass_the_caches() -> None:
    p = planner()
    masker = p.plan(PSEUDO, SHAPE)
    long_note = b"ana@acme.org " + b"x" * (ROW_CACHE_MAX + CACHE_MAX_VALUE)
    raw = data_row(row(1, note=long_note))
    out = masker.mask_data_row(raw)
    assert b"ana@acme.org" not in out
    assert raw not in masker._compiled.rows
    assert all(long_note not in step[2] for step in masker._compiled.steps)


def test_fail_closed_and_failures_are_not_cached() -> None:
    masker = planner().plan(PSEUDO, SHAPE)
    bad = data_row([b"1", b"a@b.org", b"paid", b"123-45-6789", b"ok", b"not a number"])
    for _ in range(2):
        with pytest.raises(MaskingError):
            masker.mask_data_row(bad)
    with pytest.raises(VeilError):
        masker.mask_data_row(data_row([b"1", b"a@b.org"]))  # wrong width
    with pytest.raises(VeilError):
        masker.mask_data_row(data_row(row(1))[:-2])  # truncated


@pytest.mark.parametrize("raw", [
    b"D\x00\x00\x00\x06\x00",  # too short for a count
    b"D\x00\x00\x00\x0a\x00\x01\x00\x00\x00\x05ab",  # value runs past the message
    b"D\x00\x00\x00\x0a\x00\x01\xff\xff\xff\xfe",  # negative length other than -1
    b"D\x00\x00\x00\x0b\x00\x01\xff\xff\xff\xffX",  # trailing byte
    b"D\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x01XY",  # trailing byte after a value
    b"D\x00\x00\x00\x08\x00\x01\x00\x00",  # length word cut short
])
def test_malformed_rows_fail_closed(raw: bytes) -> None:
    masker = planner().plan(PSEUDO, [ColumnInfo("email", 25)])
    with pytest.raises(VeilError):
        masker.mask_data_row(raw)


def test_a_masker_bug_becomes_a_masking_error(monkeypatch: pytest.MonkeyPatch) -> None:
    p = planner()
    masker = p.plan(PSEUDO, [ColumnInfo("email", 25)])

    def boom(*args: object) -> bytes:
        raise ZeroDivisionError

    monkeypatch.setattr(p.engine, "_pg_cached", boom)
    with pytest.raises(MaskingError) as caught:
        masker.mask_data_row(data_row([b"secret@acme.org"]))
    assert "secret" not in str(caught.value)


class _Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def write(self, data: Any) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_through_the_relay_a_failing_row_ends_the_result_and_later_rows_are_withheld() -> None:
    from veil.frontends.pg.exchange import Exchange
    from veil.frontends.pg.relay import Relay
    from veil.pipeline.hooks import Session
    from veil.upstream.channel import MessageChannel
    from veil.values import Identity

    client, upstream, seen = MessageChannel(), MessageChannel(), _Recorder()
    client.connection_made(seen)
    upstream.connection_made(_Recorder())
    exchange = Exchange(Session(Identity("t")), None)  # type: ignore[arg-type]
    relay = Relay(client, upstream, exchange, on_end=lambda r, why: None)
    exchange._set_masker(planner().plan(PSEUDO, SHAPE))  # what a RowDescription would do
    good = [data_row(row(i)) for i in (1, 2)]
    bad = data_row([b"9", b"late@acme.org", b"paid", b"123-45-0009", b"ok", b"not a number"])
    after = data_row(row(3, email=b"after@acme.org"))
    relay._from_upstream.data(b"".join([*good, bad, after]))
    out = bytes(seen.data)
    types, pos = [], 0
    while pos < len(out):
        types.append(out[pos : pos + 1])
        pos += 1 + int.from_bytes(out[pos + 1 : pos + 5], "big")
    assert types == [b"D", b"D", b"E"]  # the two good rows, masked, then the error and nothing after
    assert b"user1@acme.org" not in out and b"123-45-0001" not in out
    assert b"could not be masked" in out  # the ErrorResponse instead of the rest
    assert b"late@acme.org" not in out and b"after@acme.org" not in out and b"123-45-0003" not in out


def test_provenance_records_are_reused_per_count_vector_but_lists_are_fresh() -> None:
    p = planner()
    one, two, three = (p.plan(PSEUDO, SHAPE) for _ in range(3))
    for masker, rows in ((one, 2), (two, 2), (three, 3)):
        for i in range(rows):
            masker.mask_data_row(data_row(row(i)))
    a, b, c = one.provenance(), two.provenance(), three.provenance()
    assert a == b and a is not b and all(x is y for x, y in zip(a, b, strict=True))
    assert [x.count for x in c if x.column == "email"] == [3]
    a.clear()
    assert one.provenance() == b
