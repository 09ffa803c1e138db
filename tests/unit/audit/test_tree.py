"""RFC 6962/9162 tree: published vectors, proofs against a slow reference, corrupted proofs rejected."""

from __future__ import annotations

import hashlib

import pytest

from veil.audit.tree import (
    EMPTY_ROOT,
    CompactTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from veil.errors import AuditIntegrityError

# The Certificate Transparency reference leaves and tree heads.
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {  # (index, size 8) -> path
    0: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    5: ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}


# -- a slow reference, written straight from RFC 6962 section 2.1 over raw leaf data ----------
def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


DATA = [bytes([i, i * 7 % 256]) for i in range(21)]
HASHES = [leaf_hash(x) for x in DATA]


def test_published_roots() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    hashes = [leaf_hash(x) for x in LEAVES]
    for n in range(len(LEAVES) + 1):
        assert root_hash(hashes[:n]).hex() == ROOTS[n]
        assert ref_mth(LEAVES[:n]).hex() == ROOTS[n]


@pytest.mark.parametrize("index", sorted(INCLUSION))
def test_published_inclusion_proofs(index: int) -> None:
    hashes = [leaf_hash(x) for x in LEAVES]
    proof = inclusion_proof(index, hashes)
    assert [p.hex() for p in proof] == INCLUSION[index]
    verify_inclusion(index, 8, hashes[index], proof, bytes.fromhex(ROOTS[8]))


def test_compact_tree_matches_reference_at_every_size_and_resumes_from_its_edge() -> None:
    tree = CompactTree()
    for n, h in enumerate(HASHES, start=1):
        tree.append(h)
        assert tree.root() == ref_mth(DATA[:n])
        resumed = CompactTree.from_frontier(tree.frontier())
        assert resumed.size == n and resumed.root() == tree.root()


def test_every_inclusion_proof_matches_reference_and_verifies() -> None:
    for n in range(1, len(DATA) + 1):
        root = ref_mth(DATA[:n])
        for m in range(n):
            proof = inclusion_proof(m, HASHES[:n])
            assert proof == ref_path(m, DATA[:n])
            verify_inclusion(m, n, HASHES[m], proof, root)


def test_every_consistency_proof_matches_reference_and_verifies() -> None:
    for n in range(1, len(DATA) + 1):
        for m in range(1, n + 1):
            proof = consistency_proof(m, HASHES[:n])
            assert proof == ([] if m == n else ref_subproof(m, DATA[:n], True))
            verify_consistency(m, n, ref_mth(DATA[:m]), ref_mth(DATA[:n]), proof)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_corrupted_inclusion_proofs_are_rejected() -> None:
    n = 13
    root = ref_mth(DATA[:n])
    for m in range(n):
        proof = inclusion_proof(m, HASHES[:n])
        attacks: list[tuple[int, int, bytes, list[bytes], bytes]] = [
            (m, n, _flip(HASHES[m]), proof, root),
            (m, n, HASHES[m], proof, _flip(root)),
            (m, n, HASHES[m], [*proof, proof[0]], root),
            (m, n, HASHES[m], proof[:-1], root),
            (m, 2 * n, HASHES[m], proof, root),  # (n +- 1 can share the path's shape: the size is
            (m, n // 2, HASHES[m], proof, root),  # authenticated by the signed checkpoint, not the path)
            (m ^ 1, n, HASHES[m], proof, root),
            (m, n, HASHES[m], [*proof[:1], b"short"], root),
        ]
        attacks += [(m, n, HASHES[m], [*proof[:i], _flip(p), *proof[i + 1:]], root)
                    for i, p in enumerate(proof)]
        for idx, size, leaf, bad, r in attacks:
            if idx >= size:
                continue
            with pytest.raises(AuditIntegrityError):
                verify_inclusion(idx, size, leaf, bad, r)


def test_corrupted_consistency_proofs_are_rejected() -> None:
    n = 13
    new_root = ref_mth(DATA[:n])
    for m in range(1, n):
        old_root = ref_mth(DATA[:m])
        proof = consistency_proof(m, HASHES[:n])
        attacks: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
            (m, n, _flip(old_root), new_root, proof),
            (m, n, old_root, _flip(new_root), proof),
            (m, n, old_root, new_root, proof[:-1]),
            (m, n, old_root, new_root, [*proof, proof[-1]]),
            (m, n, old_root, new_root, []),
            (m + 1, n, old_root, new_root, proof),
            (m, 2 * n, old_root, new_root, proof),
            (n, m, new_root, old_root, proof),
        ]
        attacks += [(m, n, old_root, new_root, [*proof[:i], _flip(p), *proof[i + 1:]])
                    for i, p in enumerate(proof)]
        for a, b, ra, rb, bad in attacks:
            with pytest.raises(AuditIntegrityError):
                verify_consistency(a, b, ra, rb, bad)


def test_equal_and_empty_sizes() -> None:
    root = root_hash(HASHES[:5])
    verify_consistency(5, 5, root, root, [])
    verify_consistency(0, 5, EMPTY_ROOT, root, [])
    with pytest.raises(AuditIntegrityError):
        verify_consistency(5, 5, root, _flip(root), [])
    with pytest.raises(ValueError):
        inclusion_proof(5, HASHES[:5])
