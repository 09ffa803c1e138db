"""Deterministic, keyed, format-preserving pseudonyms, dispatched by data type."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from veil.mask.base import MaskContext, Masker
from veil.mask.formats import (
    card,
    coords,
    dates,
    email,
    generic,
    iban,
    ip,
    national_id,
    network,
    person,
    phone,
    ssn,
)

_Format = Callable[[MaskContext, str], str | None]


def _ip(ctx: MaskContext, value: str) -> str:
    return ip.pseudonymize(ctx, value) or generic.pseudonymize(ctx, "ip_address", value)


def _date(ctx: MaskContext, value: str) -> str:
    return dates.shift(ctx, "date_of_birth", value) or generic.pseudonymize(ctx, "date_of_birth", value)


def _national(data_type: str) -> _Format:
    return lambda ctx, value: national_id.pseudonymize(ctx, data_type, value)


class PseudonymizeMasker(Masker):
    name: ClassVar[str] = "pseudonymize"

    formats: ClassVar[dict[str, _Format]] = {
        "email": email.pseudonymize,
        "phone": phone.pseudonymize,
        "credit_card": card.pseudonymize,
        "us_ssn": ssn.pseudonymize,
        "iban": iban.pseudonymize,
        "national_id": _national("national_id"),
        "tax_id": _national("tax_id"),
        "person_name": person.name,
        "street_address": person.address,
        "ip_address": _ip,
        "mac_address": network.mac,
        "date_of_birth": _date,
        "geo_coordinates": lambda _ctx, value: coords.generalize(value),
    }

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        return self.for_type(data_type)(ctx, value)

    def for_type(self, data_type: str | None) -> _Format:
        fmt = self.formats.get(data_type or "")
        if fmt is not None:
            return fmt
        kind = data_type or "text"
        return lambda ctx, value: generic.pseudonymize(ctx, kind, value)
