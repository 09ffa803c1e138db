"""IPv4 and IPv6 addresses, validated by the standard library's ``ipaddress``.

Dotted quads right after ``v``/``version`` are version strings, not hosts; IPv6
candidates must parse (so clock times and MAC addresses do not pass).
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from veil.detect.base import Detector, Pattern


class IpAddressDetector(Detector):
    name = "ip_address"
    type = "ip_address"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?:^|[^\w.\-])((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?:/[0-9]{1,2})?(?:$|[^\w.\-]|\.(?:$|\s))",
            0.9,
            "IPv4 address",
        ),
        Pattern(
            # eight groups, or a "::" somewhere: clock times (18:35:05) have neither
            r"(?:^|[^\w:.])((?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
            r"|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?)"
            r"(?:%[\w]+)?)(?:$|[^\w:])",
            0.9,
            "IPv6 address",
        ),
    )
    negative_context = ("version", "ver", "ver.", "release", "build", "oid", "firmware", "v.")
    weak = True
    context = ("ip", "address", "host", "client", "remote", "addr", "from")
    shapes = frozenset({"ip"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        try:
            address = ipaddress.ip_address(candidate.split("%", 1)[0])
        except ValueError:
            return None
        if address.version == 6 and "::" not in candidate and candidate.count(":") < 7:
            return None
        if address.is_unspecified:
            return None
        if address.version == 4 and _version_like(candidate):
            return 0.45  # 4.18.0.4 is more often a version than a host; a name or context decides
        return pattern.score

    def shape(self, value: str, tag: str) -> float | None:
        try:
            ipaddress.ip_interface(value)
        except ValueError:
            return None
        return 0.95


def _version_like(candidate: str) -> bool:
    """Small octets everywhere and not a private/loopback range: the shape of ``2.12.12.6``."""
    octets = [int(part) for part in candidate.split(".")]
    return octets[0] not in (10, 127) and all(o <= 20 for o in octets)
