"""The relay under hostile orderings, driven byte by byte without sockets.

A ``Relay`` joins two ``MessageChannel``s whose transports only record what is
written, so every test sees exactly the bytes a client and the upstream would get:
pipelined refusals answered in order, a failed masker that must not leak a single
later row, frames split at every offset, and lengths no message may have.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.e2e.frontends.pg.conftest import REFUSE_MARKER, RecordingPipeline

from veil.frontends.pg.exchange import Exchange
from veil.frontends.pg.relay import Relay
from veil.pipeline.hooks import Session
from veil.upstream.channel import MessageChannel
from veil.values import Decision, Identity
from veil.wire.pg import messages as m


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def messages(self) -> list[m.Message]:
        out: list[m.Message] = []
        buf = bytes(self.data)
        pos = 0
        while pos < len(buf):
            length = int.from_bytes(buf[pos + 1 : pos + 5], "big")
            out.append(m.decode_backend(buf[pos : pos + 1], buf[pos + 5 : pos + 1 + length]))
            pos += 1 + length
        return out


class Harness:
    def __init__(self, mask: bool = False) -> None:
        self.pipeline = RecordingPipeline(mask=mask)
        self.client, self.upstream = MessageChannel(), MessageChannel()
        self.client_out, self.upstream_out = RecordingTransport(), RecordingTransport()
        self.client.connection_made(self.client_out)
        self.upstream.connection_made(self.upstream_out)
        self.exchange = Exchange(Session(Identity("t")), self.pipeline)  # type: ignore[arg-type]
        self.ended: list[str] = []
        self.relay = Relay(self.client, self.upstream, self.exchange,
                           on_end=lambda r, why: self.ended.append(why))
        self.relay.start()

    def from_client(self, *msgs: m.Message | bytes) -> None:
        self.client.data_received(b"".join(x if isinstance(x, bytes) else x.encode() for x in msgs))

    def from_upstream(self, *msgs: m.Message) -> None:
        self.upstream.data_received(b"".join(x.encode() for x in msgs))

    def sent_upstream(self) -> list[m.Message]:
        buf, out, pos = bytes(self.upstream_out.data), [], 0
        while pos < len(buf):
            length = int.from_bytes(buf[pos + 1 : pos + 5], "big")
            out.append(m.decode_frontend(buf[pos : pos + 1], buf[pos + 5 : pos + 1 + length]))
            pos += 1 + length
        return out


@contextlib.contextmanager
def unexpected_failures() -> Iterator[list[str]]:
    """Messages of "relay failure" log records (an exception the relay did not expect)."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "relay failure" in record.getMessage():
                found.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("veil.pg")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def result(*rows: bytes, tag: str = "SELECT") -> list[m.Message]:
    return [m.RowDescription((m.FieldDescription("v", type_oid=25),)),
            *(m.DataRow((r,)) for r in rows), m.CommandComplete(f"{tag} {len(rows)}"), m.ReadyForQuery("I")]


SYNTAX_ERROR = m.ErrorResponse.make("ERROR", "42601", "syntax error at or near \"veil\"")
POISON = "veil: statement refused by policy"


def test_pipelined_refusal_is_answered_in_order() -> None:
    h = Harness()
    h.from_client(m.Query("SELECT 'a'"), m.Query(f"SELECT '{REFUSE_MARKER}'"), m.Query("SELECT 'c'"))
    # the refused statement never reaches the database; a statement that must fail takes its place
    sent = [q.query for q in h.sent_upstream()]  # type: ignore[attr-defined]
    assert sent == ["SELECT 'a'", POISON, "SELECT 'c'"]
    assert h.client_out.messages() == []
    h.from_upstream(*result(b"a"), SYNTAX_ERROR, m.ReadyForQuery("I"), *result(b"c"))
    got = h.client_out.messages()
    assert got[:4] == result(b"a")
    assert isinstance(got[4], m.ErrorResponse) and got[4].sqlstate == "42501"
    assert "test-policy" in got[4].get("M") and "syntax" not in got[4].get("M")
    assert got[5] == m.ReadyForQuery("I") and got[6:] == result(b"c")
    assert [r.outcome.status for r in h.pipeline.finished] == ["refused", "ok", "ok"]


def test_refusal_inside_a_transaction_aborts_it() -> None:
    h = Harness()
    h.from_client(m.Query(f"SELECT '{REFUSE_MARKER}'"))
    h.from_upstream(m.ErrorResponse.make("ERROR", "42601", "syntax error"), m.ReadyForQuery("E"))
    got = h.client_out.messages()
    assert got[0].sqlstate == "42501" and got[1] == m.ReadyForQuery("E")  # type: ignore[attr-defined]


def test_extended_refusal_discards_until_sync() -> None:
    h = Harness()
    h.from_client(m.Parse("", f"SELECT '{REFUSE_MARKER}'"), m.Bind("", ""), m.Execute(""), m.Sync(),
                  m.Parse("", "SELECT 'ok'"), m.Bind("", ""), m.Execute(""), m.Sync())
    sent = h.sent_upstream()
    assert [type(x).__name__ for x in sent] == ["Parse", "Sync", "Parse", "Bind", "Execute", "Sync"]
    assert sent[0] == m.Parse("", POISON)
    h.from_upstream(SYNTAX_ERROR, m.ReadyForQuery("I"), m.ParseComplete(), m.BindComplete(),
                    m.DataRow((b"ok",)), m.CommandComplete("SELECT 1"), m.ReadyForQuery("I"))
    got = h.client_out.messages()
    assert [type(x).__name__ for x in got] == ["ErrorResponse", "ReadyForQuery", "ParseComplete",
                                               "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery"]
    assert got[0].sqlstate == "42501"  # type: ignore[attr-defined]


def test_refused_function_call() -> None:
    h = Harness()
    h.pipeline.authorize = lambda request: Decision(  # type: ignore[method-assign]
        allowed=request.protocol != "function-call", policy="p", reasons=("no fastpath",))
    h.from_client(m.FunctionCall(764, (0,), (b"1",), 0))
    assert h.sent_upstream() == [m.Query(POISON)]
    h.from_upstream(SYNTAX_ERROR, m.ReadyForQuery("I"))
    got = h.client_out.messages()
    assert isinstance(got[0], m.ErrorResponse) and got[0].sqlstate == "42501"
    assert got[1] == m.ReadyForQuery("I")


def test_failed_masking_leaks_no_later_row() -> None:
    h = Harness(mask=True)
    h.from_client(m.Query("SELECT v"))
    h.from_upstream(*result(b"fine", b"boom", b"SECRET-after", b"SECRET-more"))
    got = h.client_out.messages()
    names = [type(x).__name__ for x in got]
    assert names == ["RowDescription", "DataRow", "ErrorResponse", "ReadyForQuery"]
    assert got[1] == m.DataRow((b"FINE",))
    assert b"SECRET" not in bytes(h.client_out.data)
    h.from_client(m.Query("SELECT w"))
    h.from_upstream(*result(b"next"))
    assert h.client_out.messages()[4:] == [*result(b"NEXT")[:1], m.DataRow((b"NEXT",)), *result(b"next")[2:]]


@pytest.mark.parametrize("mask", [False, True])
def test_every_split_point_gives_the_same_bytes(mask: bool) -> None:
    stream = b"".join(x.encode() for x in result(b"one", b"two", b"three"))
    whole = Harness(mask=mask)
    whole.from_client(m.Query("SELECT v"))
    whole.upstream.data_received(stream)
    for cut in range(1, len(stream)):
        h = Harness(mask=mask)
        h.from_client(m.Query("SELECT v"))
        h.upstream.data_received(stream[:cut])
        h.upstream.data_received(stream[cut:])
        assert h.client_out.data == whole.client_out.data, cut


def test_one_byte_at_a_time_from_the_client() -> None:
    h = Harness()
    for byte in m.Query("SELECT 1").encode() + m.Parse("s", "SELECT 2").encode() + m.Sync().encode():
        h.client.data_received(bytes([byte]))
    assert [type(x).__name__ for x in h.sent_upstream()] == ["Query", "Parse", "Sync"]


@pytest.mark.parametrize("header", [b"Q\x00\x00\x00\x02", b"Q\x7f\xff\xff\xff", b"?\x00\x00\x00\x04"])
def test_impossible_client_messages_end_the_session_with_08p01(header: bytes) -> None:
    h = Harness()
    h.from_client(header)
    got = h.client_out.messages()
    assert isinstance(got[-1], m.ErrorResponse)
    assert (got[-1].sqlstate, got[-1].severity) == ("08P01", "FATAL")
    assert h.ended and h.client_out.closed
    assert h.sent_upstream() == []


def test_read_only_breach_ends_the_session() -> None:
    h = Harness()
    h.exchange.upstream_parameters = {"default_transaction_read_only": "on"}
    h.from_client(m.Query("SELECT evil()"))
    h.from_upstream(m.ParameterStatus("default_transaction_read_only", "off"))
    got = h.client_out.messages()
    assert isinstance(got[-1], m.ErrorResponse) and got[-1].severity == "FATAL"
    assert h.client_out.closed and h.ended


def test_pipelined_segments_finish_their_own_requests_only() -> None:
    h = Harness()
    h.from_client(m.Parse("", "SELECT 1"), m.Bind("", ""), m.Execute(""), m.Sync(),
                  m.Parse("", "SELECT 2"), m.Bind("", ""), m.Execute(""), m.Sync())
    h.from_upstream(m.ParseComplete(), m.BindComplete(), m.DataRow((b"1",)), m.CommandComplete("SELECT 1"),
                    m.ReadyForQuery("I"))
    assert [r.sql for r in h.pipeline.finished] == ["SELECT 1"]  # the second is still running
    h.from_upstream(m.ParseComplete(), m.BindComplete(), m.DataRow((b"2",)), m.CommandComplete("SELECT 1"),
                    m.ReadyForQuery("I"))
    assert [(r.sql, r.outcome.rows) for r in h.pipeline.finished] == [("SELECT 1", 1), ("SELECT 2", 1)]


def test_prepare_only_is_finished_at_sync() -> None:
    h = Harness()
    h.from_client(m.Parse("s1", "SELECT 1"), m.Describe("S", "s1"), m.Sync())
    h.from_upstream(m.ParseComplete(), m.ParameterDescription(()), m.NoData(), m.ReadyForQuery("I"))
    assert [r.sql for r in h.pipeline.finished] == ["SELECT 1"]
    h.from_client(m.Bind("", "s1"), m.Execute(""), m.Sync())  # a re-execution is a new request
    h.from_upstream(m.BindComplete(), m.CommandComplete("SELECT 0"), m.ReadyForQuery("I"))
    assert len(h.pipeline.finished) == len(h.pipeline.authorized) == 2


@pytest.mark.parametrize("mask", [False, True])
def test_a_large_row_in_small_pieces(mask: bool) -> None:
    big = b"v" * 2_000_000
    stream = b"".join(x.encode() for x in result(big, b"small"))
    h = Harness(mask=mask)
    h.from_client(m.Query("SELECT v"))
    for i in range(0, len(stream), 1000):
        h.upstream.data_received(stream[i : i + 1000])
        if not mask and 10_000 < i < len(stream) - 10_000:
            # without a masker the row streams through instead of waiting to be whole
            assert len(h.client_out.data) >= i - 1000
    expected = result(big.upper(), b"SMALL") if mask else result(big, b"small")
    assert h.client_out.messages() == [*expected[:3], *result(big, b"small")[3:]]
    assert h.exchange.fast_bytes == 0 and h.pipeline.finished[0].outcome.bytes > 2_000_000


def test_function_calls_are_authorized_as_the_named_function() -> None:
    h = Harness()
    h.from_client(m.FunctionCall(955, (0, 1), (b"\x00\x00\x00\x01", b"data"), 0),
                  m.FunctionCall(424242, (), (), 0))
    assert [r.sql for r in h.pipeline.authorized] == [
        "SELECT pg_catalog.lowrite($1, $2)", "/* FunctionCall of function OID 424242 */ FUNCTION CALL"]
    assert all(r.protocol == "function-call" for r in h.pipeline.authorized)
    assert b"data" not in b"".join(r.sql.encode() for r in h.pipeline.authorized)  # never argument values


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(b"QPBDECSFHdcfXp"), st.binary(max_size=40)), max_size=6))
def test_random_client_messages_only_meet_typed_errors(frames: list[tuple[int, bytes]]) -> None:
    h = Harness()
    with unexpected_failures() as failures:
        h.from_client(b"".join(bytes([t]) + (len(body) + 4).to_bytes(4, "big") + body for t, body in frames))
    assert failures == []  # every failure is a protocol error the relay understood
    if h.ended:
        last = h.client_out.messages()[-1]
        assert isinstance(last, m.ErrorResponse) and last.sqlstate == "08P01"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(b"ZENASCIs123TnGHdcDKv"), st.binary(max_size=40)), max_size=6))
def test_random_upstream_messages_only_meet_typed_errors(frames: list[tuple[int, bytes]]) -> None:
    h = Harness(mask=True)
    h.from_client(m.Query("SELECT 1"), m.Parse("", "SELECT 2"), m.Bind("", ""), m.Execute(""), m.Sync())
    with unexpected_failures() as failures:
        h.upstream.data_received(b"".join(bytes([t]) + (len(b) + 4).to_bytes(4, "big") + b
                                          for t, b in frames))
    assert failures == []  # junk from the upstream is a protocol error, never a crash in the relay
