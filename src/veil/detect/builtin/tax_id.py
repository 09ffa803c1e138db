"""Tax identifiers of people and companies (python-stdnum): US EIN/ITIN, DE Steuer-ID, IN PAN...."""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Pattern
from veil.detect.builtin._id_table import IdFormat, IdTableDetector, table_patterns

TABLE: tuple[IdFormat, ...] = (
    IdFormat(
        "US ITIN", r"9[0-9]{2}-(?:5[0-9]|6[0-5]|7[0-9]|8[0-8]|9[0-24-9])-[0-9]{4}", 0.85, "stdnum.us.itin"
    ),
    IdFormat("US EIN", r"[0-9]{2}-[0-9]{7}", 0.7, "stdnum.us.ein"),
    IdFormat("DE Steuer-ID", r"[0-9]{2} [0-9]{3} [0-9]{3} [0-9]{3}", 0.7, "stdnum.de.idnr"),
    IdFormat("DE Steuer-ID digits", r"[0-9]{11}", 0.3, "stdnum.de.idnr"),
    IdFormat("IN PAN", r"[A-Z]{3}[ABCFGHLJPT][A-Z][0-9]{4}[A-Z]", 0.9, "stdnum.in_.pan"),
    IdFormat("BR CNPJ", r"[0-9]{2}\.[0-9]{3}\.[0-9]{3}/[0-9]{4}-[0-9]{2}", 0.9, "stdnum.br.cnpj"),
    IdFormat("AU TFN", r"[0-9]{3} [0-9]{3} [0-9]{2,3}", 0.45, "stdnum.au.tfn"),
    IdFormat("ES CIF", r"[ABCDEFGHJNPQRSUVW][0-9]{7}[0-9A-J]", 0.45, "stdnum.es.cif"),
    IdFormat("FR SIREN", r"[0-9]{3} [0-9]{3} [0-9]{3}", 0.4, "stdnum.fr.siren"),
    IdFormat("GB UTR", r"[0-9]{5} ?[0-9]{5}", 0.3, "stdnum.gb.utr"),
)


class TaxIdDetector(IdTableDetector):
    name = "tax_id"
    type = "tax_id"
    table = TABLE
    patterns: ClassVar[tuple[Pattern, ...]] = table_patterns(TABLE)
    context = ("tax", "ein", "itin", "tin", "steuer", "pan", "cnpj", "tfn", "cif", "siren", "utr", "fiscal")
    shapes = frozenset({"id"})
