"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Pure functions over 32-byte SHA-256 hashes.  Leaves and interior nodes are
domain-separated (0x00 / 0x01 prefixes) so a leaf can never pass for a node.
``CompactTree`` keeps only the right edge of the tree (one hash per set bit of the
size), which is all an append-only writer needs to compute the next root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from veil.errors import AuditIntegrityError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of already-hashed leaves, computed bottom-up in O(n)."""
    tree = CompactTree()
    for h in leaves:
        tree.append(h)
    return tree.root()


class CompactTree:
    """The right edge of an append-only tree: ``append`` and ``root`` in O(log n)."""

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
        self.size = 0

    @classmethod
    def from_frontier(cls, frontier: Sequence[tuple[int, bytes]]) -> CompactTree:
        tree = cls()
        tree._stack = list(frontier)
        tree.size = sum(size for size, _ in frontier)
        return tree

    def frontier(self) -> tuple[tuple[int, bytes], ...]:
        return tuple(self._stack)

    def copy(self) -> CompactTree:
        return CompactTree.from_frontier(self._stack)

    def append(self, leaf: bytes) -> None:
        stack = self._stack
        stack.append((1, leaf))
        while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
            size, right = stack.pop()
            _, left = stack.pop()
            stack.append((size * 2, node_hash(left, right)))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} outside a tree of size {n}")
    return _path(index, leaves, 0, n)


def _path(m: int, leaves: Sequence[bytes], lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, leaves, lo, lo + k), _subroot(leaves, lo + k, hi)]
    return [*_path(m - k, leaves, lo + k, hi), _subroot(leaves, lo, lo + k)]


def _subroot(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    return root_hash(leaves[lo:hi])


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1 (empty when m == n or m == 0)."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} outside a tree of size {n}")
    if old_size in (0, n):
        return []
    return _subproof(old_size, leaves, 0, n, True)


def _subproof(m: int, leaves: Sequence[bytes], lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [_subroot(leaves, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves, lo, lo + k, whole), _subroot(leaves, lo + k, hi)]
    return [*_subproof(m - k, leaves, lo + k, hi, False), _subroot(leaves, lo, lo + k)]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2; raises ``AuditIntegrityError`` unless the proof holds."""
    if not 0 <= index < size:
        raise AuditIntegrityError(f"leaf index {index} outside a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        _check_hash(p)
        if sn == 0:
            raise AuditIntegrityError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise AuditIntegrityError("inclusion proof is too short")
    if r != root:
        raise AuditIntegrityError("inclusion proof does not lead to the root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 section 2.1.4.2; raises ``AuditIntegrityError`` unless the proof holds."""
    if not 0 <= old_size <= new_size:
        raise AuditIntegrityError(f"tree shrank from {old_size} to {new_size}")
    if old_size == new_size:
        if proof:
            raise AuditIntegrityError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise AuditIntegrityError("same tree size, different roots")
        return
    if old_size == 0:
        if proof:
            raise AuditIntegrityError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise AuditIntegrityError("consistency proof is empty")
    for p in proof:
        _check_hash(p)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise AuditIntegrityError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise AuditIntegrityError("consistency proof is too short")
    if fr != old_root:
        raise AuditIntegrityError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise AuditIntegrityError("consistency proof does not lead to the new root")


def _check_hash(h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise AuditIntegrityError("proof node is not a SHA-256 hash")
