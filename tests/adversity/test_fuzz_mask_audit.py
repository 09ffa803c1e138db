"""Replay of the masking and audit fuzz corpus, and the bugs that fuzzing found there.

Why: ``bench/fuzz.py`` runs the long coverage-guided campaigns (``mask_pg``, ``copy``,
``audit``); this file keeps what they learnt in every test run.  The kept corpus
(``bench/fuzz_corpus/<target>/``) replays through the very target functions with their
contracts (only typed errors escape, COPY escaping round-trips, a tampered checkpoint
never verifies), and each finding has a named regression test.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from bench.fuzz import _build

from veil.errors import MaskingError
from veil.mask.copyrows import mask_copy_fields, mask_copy_line
from veil.mask.engine import MaskEngine
from veil.mask.keys import Keyring

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "fuzz_corpus"
DEEP_JSON = b"[" * 1500 + b"]" * 1500


@pytest.mark.parametrize("target", ["mask_pg", "copy", "audit"])
def test_corpus_replays_clean(target: str) -> None:
    files = sorted((CORPUS / target).iterdir())
    assert files, f"no corpus for {target}"
    one = _build(target)
    for path in files:
        one(path.read_bytes())  # raises on a contract breach; the file name says which input


@pytest.mark.parametrize(("oid", "fmt"), [(114, 0), (3802, 0), (3802, 1), (199, 0), (3807, 0)])
def test_deeply_nested_json_fails_closed_with_a_masking_error(oid: int, fmt: int) -> None:
    """Found by the mask_pg target: json/jsonb nesting past the recursion limit raised RecursionError."""
    engine = MaskEngine(Keyring.generate(), cache_size=0)
    value = (b"\x01" if (oid == 3802 and fmt) else b"") + DEEP_JSON
    if oid in (199, 3807):  # json[] / jsonb[]: one deep element
        value = b'{"' + DEEP_JSON + b'"}'
    with pytest.raises(MaskingError) as err:
        engine.mask_pg(None, "pseudonymize", oid, fmt, value)
    assert "RecursionError" in str(err.value)
    assert b"[[[" not in str(err.value).encode()  # the value is never quoted back


def test_copy_row_that_is_not_utf8_fails_closed_with_a_masking_error() -> None:
    """Found by the copy target: a non-UTF-8 row raised UnicodeDecodeError (with the bytes in it)."""
    row = b"1\t\xff\xfe secret\n"
    for call in (lambda: mask_copy_line(row, str.upper),
                 lambda: mask_copy_fields(row, lambda values: values, csv=True)):
        with pytest.raises(MaskingError, match="not valid UTF-8") as err:
            call()
        assert "secret" not in str(err.value)


def test_binary_int_array_round_trips_through_the_fuzz_contract() -> None:
    """A well-formed binary int4[] (the corpus seed's shape) masks to a well-formed int4[]."""
    engine = MaskEngine(Keyring.generate(), cache_size=0)
    raw = struct.pack("!iiiii", 1, 0, 23, 2, 1) + struct.pack("!ii", 4, 1) + struct.pack("!ii", 4, 2)
    out = engine.mask_pg("credit_card", "pseudonymize", 1007, 1, raw)
    assert out is not None and out[:12] == raw[:12] and len(out) == len(raw)


def test_a_binary_numeric_that_expands_to_thousands_of_digits_fails_closed_fast() -> None:
    """Found by the mask_pg target: 137 bytes of binary numeric (weight 7453) decode to 37,270 digits,
    and masking them as a card number took 3.3 s of CPU (the digit maskers are super-linear)."""
    engine = MaskEngine(Keyring.generate(), cache_size=0)
    raw = struct.pack("!hhHh", 2, 32000, 0, 4) + struct.pack("!hh", 1, 1)  # ~128,000 digits
    for method in ("pseudonymize", "partial", "hash", "tokenize", "generalize"):
        started = time.process_time()
        with pytest.raises(MaskingError, match="more than 4300 digits"):
            engine.mask_pg("credit_card", method, 1700, 1, raw)
        assert time.process_time() - started < 0.5
    assert engine.mask_pg("credit_card", "redact", 1700, 1, raw) is not None  # redaction needs no digits
    ok = engine.mask_pg("credit_card", "pseudonymize", 1700, 0, b"4111111111111111")
    assert ok is not None and len(ok) == 16  # ordinary numbers are unaffected
