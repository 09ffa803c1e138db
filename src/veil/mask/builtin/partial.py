"""Keep what the data type's display convention allows (last four of a card, initials...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from veil.mask.base import MaskContext, Masker
from veil.mask.formats import card, coords, dates, email, generic, iban, ip, network, person, phone, ssn


def _dob(value: str) -> str:
    return dates.year(value) or generic.partial(value)


def _secret(value: str) -> str:
    # A provider prefix (``sk_live_``, ``ghp_``) says which system; nothing of the secret itself.
    return value[:4] + "*" * 8 if len(value) > 16 else "*" * 8


class PartialMasker(Masker):
    name: ClassVar[str] = "partial"

    formats: ClassVar[dict[str, Callable[[str], str | None]]] = {
        "email": email.partial,
        "phone": phone.partial,
        "credit_card": card.partial,
        "us_ssn": ssn.partial,
        "iban": iban.partial,
        "person_name": person.name_partial,
        "street_address": person.address_partial,
        "ip_address": lambda v: ip.generalize(v) or generic.partial(v),
        "mac_address": network.mac_partial,
        "date_of_birth": _dob,
        "secret": _secret,
        "geo_coordinates": coords.generalize,
    }

    def mask(self, ctx: MaskContext, data_type: str | None, value: str) -> str | None:
        fmt = self.formats.get(data_type or "")
        return fmt(value) if fmt is not None else generic.partial(value)
