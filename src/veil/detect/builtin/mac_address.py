"""Hardware (MAC) addresses: six hex octets with one consistent separator, or Cisco dotted form."""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern


class MacAddressDetector(Detector):
    name = "mac_address"
    type = "mac_address"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?:^|[^\w:\-])([0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5})(?:$|[^\w:\-])", 0.9, "MAC address"
        ),
        Pattern(
            r"(?:^|[^\w.])([0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?:$|[^\w.])", 0.85, "MAC address"
        ),
    )
    context = ("mac", "hwaddr", "ether", "device", "bssid")
    shapes = frozenset({"mac"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        separators = {ch for ch in candidate if ch in ":-."}
        if len(separators) != 1:
            return None
        hexdigits = candidate.replace(":", "").replace("-", "").replace(".", "")
        if len(set(hexdigits.lower())) == 1:
            return None  # 00:00:00:00:00:00 / ff:ff:... are placeholders and broadcast, not a device
        return pattern.score

    def shape(self, value: str, tag: str) -> float | None:
        pattern = self.patterns[0] if len(value) == 17 else self.patterns[1]
        return 0.95 if len(value) in (14, 17) and self.validate(value, pattern) is not None else None
