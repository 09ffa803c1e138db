"""National and tax identifiers with a valid checksum, where python-stdnum knows the format.

The value does not say its country, so the formats are tried in a fixed order and the
first that validates the original is kept for the pseudonym.  Candidates are keyed
shape-preserving rewrites; the last character is then searched for one that makes the
checksum valid.  Formats with embedded dates (personnummer, PESEL...) may need a few
attempts; when none validates, the shape-preserving pseudonym is returned unchanged.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from veil.mask.base import DIGITS, UPPER, MaskContext, keyed_like, shares_run
from veil.mask.formats import generic

_FORMATS = (
    "nl.bsn", "br.cpf", "br.cnpj", "in_.aadhaar", "in_.pan", "es.dni", "es.nie", "es.nif",
    "se.personnummer", "fr.nir", "ca.sin", "it.codicefiscale", "de.idnr", "dk.cpr", "fi.hetu",
    "no.fodselsnummer", "pl.pesel", "be.nn", "pt.cc", "cn.ric", "za.idnr", "us.itin", "us.ein",
    "mx.curp", "cl.rut", "ch.ssn", "au.tfn", "gb.utr",
)
_ATTEMPTS = 24


@functools.cache
def _modules() -> tuple[ModuleType, ...]:
    found = []
    for name in _FORMATS:
        try:
            found.append(importlib.import_module(f"stdnum.{name}"))
        except ImportError:
            continue
    return tuple(found)


def format_of(value: str) -> ModuleType | None:
    for module in _modules():
        try:
            if module.is_valid(value):
                return module
        except Exception:  # a stdnum module may raise on odd input: "not this format"
            continue
    return None


def _valid(module: ModuleType, candidate: str) -> bool:
    try:
        return bool(module.is_valid(candidate))
    except Exception:
        return False


def pseudonymize(ctx: MaskContext, data_type: str, value: str) -> str:
    module = format_of(value)
    if module is None:
        return generic.pseudonymize(ctx, data_type, value)
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    last = positions[-1]
    alphabet = DIGITS if value[last].isdigit() else UPPER
    for attempt in range(_ATTEMPTS):
        base = keyed_like(ctx.stream(f"pseudonymize/{data_type}", value, attempt), value)
        for ch in alphabet:
            cand = base[:last] + ch + base[last + 1 :]
            if cand != value and _valid(module, cand) and not shares_run(value, cand):
                return cand
    return generic.pseudonymize(ctx, data_type, value)
