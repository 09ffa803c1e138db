"""Street addresses: number + street + street-type word (US/UK style) or German/Dutch/French forms
in free text; any address-shaped cell under an address column name."""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern

_TYPES = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
    r"Circle|Cir|Parkway|Pkwy|Square|Sq|Highway|Hwy|Trail|Crescent|Close|Grove|Gardens|Row|Walk)"
)


class StreetAddressDetector(Detector):
    name = "street_address"
    type = "street_address"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"\b([0-9]{1,6}[A-Za-z]? (?:[A-Z][a-z]+\.? ){1,4}" + _TYPES + r"\b\.?"
            r"(?:,? (?:Apt\.?|Suite|Unit|#) ?[0-9A-Za-z\-]{1,6})?)",
            0.8,
            "number, street, street type",
        ),
        Pattern(
            r"\b((?:[A-ZÄÖÜ][a-zäöüß\-]+ )?[A-ZÄÖÜ][a-zäöüß\-]*"
            r"(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|"
            r"damm|ufer|straat|laan|plein|gracht|steeg) [0-9]{1,4}[a-z]?)\b",
            0.8,
            "street and house number",
        ),
        Pattern(
            r"\b([0-9]{1,4}(?:,| bis| ter)? (?:rue|avenue|boulevard|bd|place|chemin|impasse|allée|quai) "
            r"(?:[A-Za-zéèêàâîôûç'\-]+ ?){1,5})",
            0.75,
            "numéro et voie",
        ),
        Pattern(
            r"\b((?:Calle|Avenida|Av\.|Via|Viale|Piazza|Rua) [A-ZÁÉÍÓÚ][\wáéíóúñ ]{2,40},? [0-9]{1,4})\b",
            0.75,
            "street and number",
        ),
    )
    context = ("address", "lives at", "street", "ship to", "deliver")
    shapes = frozenset({"address", "postcode"})

    def shape(self, value: str, tag: str) -> float | None:
        if tag == "postcode":
            compact = value.replace(" ", "").replace("-", "")
            return (
                0.8
                if 3 <= len(compact) <= 10 and compact.isalnum() and any(c.isdigit() for c in compact)
                else None
            )
        if not 5 <= len(value) <= 300 or not any(c.isalpha() for c in value):
            return None
        return 0.9 if any(c.isdigit() for c in value) else 0.6
