"""Prefix-preserving keyed IP pseudonyms (the Crypto-PAn idea, on HMAC instead of AES).

Output bit *i* is input bit *i* XOR a keyed function of input bits ``0..i-1``, so two
addresses sharing a k-bit prefix map to pseudonyms sharing exactly a k-bit prefix:
same-subnet addresses stay same-subnet.  One HMAC per octet suffices: its 256 bits are
indexed by the octet's partial-prefix node (a heap index 1..255), so IPv4 costs four
HMACs and IPv6 sixteen.
"""

from __future__ import annotations

import ipaddress

from veil.mask.base import MaskContext, Prf


def permute(prf: Prf, packed: bytes) -> bytes:
    """The prefix-preserving keyed permutation of an address's bytes."""
    out = bytearray()
    for k, octet in enumerate(packed):
        d = prf.digest(bytes([len(packed)]) + packed[:k])
        o = 0
        for j in range(8):
            node = (1 << j) | (octet >> (8 - j))
            flip = (d[node >> 3] >> (node & 7)) & 1
            bit = (octet >> (7 - j)) & 1
            o = (o << 1) | (bit ^ flip)
        out.append(o)
    return bytes(out)


def split_prefix(value: str) -> tuple[str, int | None]:
    addr, slash, bits = value.partition("/")
    if slash and bits.isdigit():
        return addr, int(bits)
    return value, None


def pseudonymize_address(ctx: MaskContext, addr: ipaddress.IPv4Address | ipaddress.IPv6Address
                         ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    packed = permute(ctx.prf("pseudonymize/ip_address"), addr.packed)
    return ipaddress.ip_address(packed)


def zero_host_bits(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int
                   ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    bits = addr.max_prefixlen
    mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    return ipaddress.ip_address(int(addr) & mask if bits == 32 else (int(addr) & mask).to_bytes(16, "big"))


def pseudonymize(ctx: MaskContext, value: str, *, cidr: bool = False) -> str | None:
    """The pseudonym of ``a.b.c.d`` or ``a.b.c.d/n`` (host bits zeroed for cidr), None if not an IP."""
    text, prefix = split_prefix(value.strip())
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if prefix is not None and prefix > addr.max_prefixlen:
        return None
    masked = pseudonymize_address(ctx, addr)
    if cidr and prefix is not None:
        masked = zero_host_bits(masked, prefix)
    return f"{masked}/{prefix}" if prefix is not None else str(masked)


def generalize(value: str, *, cidr: bool = False) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address, as ``a.b.c.0/24``."""
    text, prefix = split_prefix(value.strip())
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    width = 24 if addr.version == 4 else 48
    width = min(width, prefix) if prefix is not None else width
    return f"{zero_host_bits(addr, width)}/{width}"
