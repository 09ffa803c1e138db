"""Signed notes in the C2SP format: round trip, key hash, and every way a note can be wrong."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veil.audit.checkpoint import Checkpoint, Signer, Verifier, parse_note, split_notes
from veil.errors import AuditIntegrityError, KeyError_

CP = Checkpoint("veil.audit/node-a", 42, bytes(range(32)), ("time 2026-11-29T04:00:00.000000Z",))


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def test_note_text_is_the_c2sp_checkpoint(signer: Signer) -> None:
    note = signer.sign(CP)
    body, sigs = note.split("\n\n")
    assert body.split("\n") == ["veil.audit/node-a", "42", base64.b64encode(bytes(range(32))).decode(),
                                "time 2026-11-29T04:00:00.000000Z"]
    assert sigs.startswith("\u2014 veil-audit ")
    raw = base64.b64decode(sigs.split(" ")[2])
    expected_hash = hashlib.sha256(b"veil-audit\n\x01" + signer.verifier.raw).digest()[:4]
    assert raw[:4] == expected_hash and len(raw) == 4 + 64


def test_round_trip_and_verification(signer: Signer) -> None:
    parsed = parse_note(signer.sign(CP))
    assert parsed.checkpoint == CP
    assert parsed.checkpoint.time == "2026-11-29T04:00:00.000000Z"
    assert signer.verifier.verify(parsed)
    assert Verifier.from_vkey(signer.verifier.vkey()).verify(parsed)
    other = Signer(Ed25519PrivateKey.generate())
    assert not other.verifier.verify(parsed)


def test_edited_body_fails_signature(signer: Signer) -> None:
    note = signer.sign(CP)
    forged = note.replace("\n42\n", "\n43\n")
    assert not signer.verifier.verify(parse_note(forged))


def test_signature_under_same_name_but_other_key_fails(signer: Signer) -> None:
    other = Signer(Ed25519PrivateKey.generate())
    sig_line = other.sign(CP).split("\n\n")[1]
    forged = CP.body() + "\n" + sig_line
    assert not signer.verifier.verify(parse_note(forged))


@pytest.mark.parametrize("bad", [
    "veil.audit/x\n1\nAAAA\n",  # no signature block
    "veil.audit/x\nten\n" + base64.b64encode(bytes(32)).decode() + "\n\n\u2014 k AAAAAAAA\n",
    "veil.audit/x\n01\n" + base64.b64encode(bytes(32)).decode() + "\n\n\u2014 k AAAAAAAA\n",
    "veil.audit/x\n1\n" + base64.b64encode(bytes(31)).decode() + "\n\n\u2014 k AAAAAAAA\n",
    "veil.audit/x\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\n- k AAAAAAAA\n",
    "veil.audit/x\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\n\u2014 k AAA\n",
])
def test_malformed_notes_raise(bad: str) -> None:
    with pytest.raises(AuditIntegrityError):
        parse_note(bad)


def test_split_concatenated_notes(signer: Signer) -> None:
    notes = [signer.sign(Checkpoint("o", n, bytes(32))) for n in (1, 2, 3)]
    assert list(split_notes("\n".join(notes))) == notes


def test_keys_from_pem(signer: Signer) -> None:
    pem = signer.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    pub = signer.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    again = Signer.from_pem(pem)
    assert Verifier.from_pem(pub).verify(parse_note(again.sign(CP)))
    with pytest.raises(KeyError_):
        Signer.from_pem(b"not a key")
    with pytest.raises(KeyError_):
        Verifier.from_vkey("veil-audit+00000000+" + base64.b64encode(b"\x01" + signer.verifier.raw).decode())
