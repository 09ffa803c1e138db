"""Prefix-preserving keyed IP pseudonyms (the Crypto-PAn idea, on HMAC instead of AES).

Output bit *i* is input bit *i* XOR a keyed function of input bits ``0..i-1``, so two
addresses sharing a k-bit prefix map to pseudonyms sharing exactly a k-bit prefix:
same-subnet addresses stay same-subnet.  One HMAC per octet suffices: its 256 bits are
indexed by the octet's partial-prefix node (a heap index 1..255), so IPv4 costs four
HMACs and IPv6 sixteen.
"""

from __future__ import annotations

import ipaddress
import re

from veil.mask.base import MaskContext, Prf

_DOTTED = re.compile(r"^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$")


def _octet(d: bytes, octet: int) -> int:
    """One octet through the keyed bit-flips of digest ``d`` (bit j flips by node (1<<j)|prefix)."""
    o = 0
    for j in range(8):
        node = (1 << j) | (octet >> (8 - j))
        o = (o << 1) | (((octet >> (7 - j)) & 1) ^ ((d[node >> 3] >> (node & 7)) & 1))
    return o


def permute(prf: Prf, packed: bytes, ctx: MaskContext | None = None) -> bytes:
    """The prefix-preserving keyed permutation of an address's bytes.

    The first three octets' prefixes repeat across the addresses of one network, so with
    a context their 256-entry octet tables are memoized (bounded by the context's memo):
    after the first address of a /24, an IPv4 pseudonym costs one HMAC.
    """
    out = bytearray()
    for k, octet in enumerate(packed):
        msg = bytes([len(packed)]) + packed[:k]
        if ctx is not None and k < 3:
            key = ("ip-table", ctx.key_id, msg)
            table = ctx.memo.get(key)
            if table is None:
                d = prf.digest(msg)
                table = bytes(_octet(d, o) for o in range(256))
                ctx.remember(key, table)
            out.append(table[octet])  # type: ignore[index]
        else:
            out.append(_octet(prf.digest(msg), octet))
    return bytes(out)


def split_prefix(value: str) -> tuple[str, int | None]:
    addr, slash, bits = value.partition("/")
    if slash and bits.isascii() and bits.isdigit():
        return addr, int(bits)
    return value, None


def pseudonymize_address(ctx: MaskContext, addr: ipaddress.IPv4Address | ipaddress.IPv6Address
                         ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    packed = permute(ctx.prf("pseudonymize/ip_address"), addr.packed, ctx)
    return ipaddress.ip_address(packed)


def zero_host_bits(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int
                   ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    bits = addr.max_prefixlen
    mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    return ipaddress.ip_address(int(addr) & mask if bits == 32 else (int(addr) & mask).to_bytes(16, "big"))


def pseudonymize(ctx: MaskContext, value: str, *, cidr: bool = False) -> str | None:
    """The pseudonym of ``a.b.c.d`` or ``a.b.c.d/n`` (host bits zeroed for cidr), None if not an IP."""
    m = _DOTTED.match(value)
    if m is not None and all(int(x) < 256 and (x == "0" or x[0] != "0") for x in m.groups()):
        out = permute(ctx.prf("pseudonymize/ip_address"), bytes(int(x) for x in m.groups()), ctx)
        return f"{out[0]}.{out[1]}.{out[2]}.{out[3]}"
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
