"""National identifiers of other countries (python-stdnum), reported with their country.

Formats with letters or punctuation (UK NINO, ES DNI/NIE, IT codice fiscale, FR NIR,
BR CPF, MX CURP, ...) are strong on their own; bare digit forms (NL BSN, CA SIN...)
need the column name or a context word.
"""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Pattern
from veil.detect.builtin._id_table import IdFormat, IdTableDetector, table_patterns

_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})

TABLE: tuple[IdFormat, ...] = (
    IdFormat(
        "GB NINO", r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]", 0.85, ""
    ),
    IdFormat(
        "FR NIR",
        r"[12] ?[0-9]{2} ?(?:0[1-9]|1[0-2]|[2-9][0-9]) ?(?:[0-9]{2}|2[ABab]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}",
        0.85,
        "stdnum.fr.nir",
    ),
    IdFormat("ES DNI", r"[0-9]{8}-?[A-Z]", 0.85, "stdnum.es.dni"),
    IdFormat("ES NIE", r"[XYZ]-?[0-9]{7}-?[A-Z]", 0.9, "stdnum.es.nie"),
    IdFormat(
        "IT codice fiscale",
        r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]",
        0.95,
        "stdnum.it.codicefiscale",
    ),
    IdFormat("NL BSN", r"[0-9]{4}\.[0-9]{2}\.[0-9]{3}", 0.7, "stdnum.nl.bsn"),
    IdFormat("NL BSN digits", r"[0-9]{9}", 0.3, "stdnum.nl.bsn"),
    IdFormat("BR CPF", r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}", 0.9, "stdnum.br.cpf"),
    IdFormat("BR CPF digits", r"[0-9]{11}", 0.3, "stdnum.br.cpf"),
    IdFormat("IN Aadhaar", r"[2-9][0-9]{3} [0-9]{4} [0-9]{4}", 0.85, "stdnum.in_.aadhaar"),
    IdFormat("IN Aadhaar digits", r"[2-9][0-9]{11}", 0.35, "stdnum.in_.aadhaar"),
    IdFormat("CA SIN", r"[0-9]{3}[ \-][0-9]{3}[ \-][0-9]{3}", 0.45, "stdnum.ca.sin"),
    IdFormat("SE personnummer", r"(?:19|20)?[0-9]{6}[\-+][0-9]{4}", 0.8, "stdnum.se.personnummer"),
    IdFormat("DK CPR", r"[0-3][0-9][01][0-9]{3}-[0-9]{4}", 0.6, "stdnum.dk.cpr"),
    IdFormat("FI HETU", r"[0-3][0-9][01][0-9]{3}[\-+A][0-9]{3}[0-9A-Y]", 0.9, "stdnum.fi.hetu"),
    IdFormat("NO fodselsnummer", r"[0-7][0-9][01][0-9]{3} ?[0-9]{5}", 0.35, "stdnum.no.fodselsnummer"),
    IdFormat("PL PESEL", r"[0-9]{2}[0-3][0-9]{8}", 0.35, "stdnum.pl.pesel"),
    IdFormat("BE national number", r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}-[0-9]{3}\.[0-9]{2}", 0.9, "stdnum.be.nn"),
    IdFormat("CN resident id", r"[1-9][0-9]{16}[0-9X]", 0.7, "stdnum.cn.ric"),
    IdFormat("ZA id number", r"[0-9]{2}[01][0-9][0-3][0-9]{8}", 0.4, "stdnum.za.idnr"),
    IdFormat("KR RRN", r"[0-9]{6}-[1-4][0-9]{6}", 0.85, "stdnum.kr.rrn"),
    IdFormat("MX CURP", r"[A-Z]{4}[0-9]{6}[HM][A-Z]{5}[0-9A-Z][0-9]", 0.95, "stdnum.mx.curp"),
    IdFormat("CL RUT", r"[0-9]{1,2}\.[0-9]{3}\.[0-9]{3}-[0-9Kk]", 0.85, "stdnum.cl.rut"),
    IdFormat("CH AHV", r"756\.[0-9]{4}\.[0-9]{4}\.[0-9]{2}", 0.95, "stdnum.ch.ssn"),
)


class NationalIdDetector(IdTableDetector):
    name = "national_id"
    type = "national_id"
    table = TABLE
    patterns: ClassVar[tuple[Pattern, ...]] = table_patterns(TABLE)
    context = (
        "national id",
        "nino",
        "national insurance",
        "bsn",
        "burgerservice",
        "cpf",
        "aadhaar",
        "sin",
        "social insurance",
        "personnummer",
        "cpr",
        "hetu",
        "pesel",
        "curp",
        "rut",
        "ahv",
        "dni",
        "nie",
        "nir",
        "sécurité sociale",
        "codice fiscale",
        "identity",
        "id no",
        "id number",
    )
    shapes = frozenset({"id", "licence"})

    def own_check(self, candidate: str) -> bool:
        """UK National Insurance numbers have no checksum, only prefix rules (HMRC)."""
        compact = candidate.replace(" ", "").upper()
        return compact[:2] not in _NINO_BAD_PREFIXES and compact[1] != "O"

    def shape(self, value: str, tag: str) -> float | None:
        if tag == "licence":
            compact = value.replace(" ", "").replace("-", "")
            ok = 5 <= len(compact) <= 20 and compact.isalnum() and any(c.isdigit() for c in compact)
            return 0.9 if ok else None
        return super().shape(value, tag)
