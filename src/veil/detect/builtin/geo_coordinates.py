"""Latitude/longitude pairs in free text, and single coordinates under a lat/lon column name.

A pair needs decimals (at least three, about 100 m) and both values in range; plain
decimals like prices never have the ``lat, lon`` shape.
"""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern

_PAIR = r"([+\-]?[0-9]{1,2}\.[0-9]{3,12}) ?, ?([+\-]?[0-9]{1,3}\.[0-9]{3,12})"


class GeoCoordinatesDetector(Detector):
    name = "geo_coordinates"
    type = "geo_coordinates"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(r"(?:^|[^\w.\-+])(" + _PAIR + r")(?:$|[^\w.])", 0.85, "latitude, longitude"),
    )
    context = ("lat", "lon", "lng", "gps", "location", "coordinates", "geo", "position")
    shapes = frozenset({"lat", "lon", "coords"})

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        lat_text, _, lon_text = candidate.partition(",")
        try:
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            return None
        return pattern.score if abs(lat) <= 90 and abs(lon) <= 180 else None

    def shape(self, value: str, tag: str) -> float | None:
        if tag == "coords":
            return 0.9 if self.validate(value.strip("()[] "), self.patterns[0]) is not None else None
        try:
            number = float(value)
        except ValueError:
            return None
        limit = 90 if tag == "lat" else 180
        return 0.9 if abs(number) <= limit and "." in value else None
