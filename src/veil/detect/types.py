"""The data type names of INTERFACE.md and the categories that group them.

These names are the user-facing contract: policies' ``mask:`` keys, ``columns:`` tags
and audit records use them.  Add types, never rename one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "contact": ("email", "phone"),
    "identity": ("person_name", "date_of_birth", "us_ssn", "national_id", "passport", "tax_id"),
    "financial": ("credit_card", "iban", "bank_account"),
    "credential": ("secret",),
    "network": ("ip_address", "mac_address"),
    "health": ("medical_record_number", "health"),
    "location": ("street_address", "geo_coordinates"),
}

#: type name -> category
TYPES: Mapping[str, str] = MappingProxyType(
    {type_: category for category, types in _BY_CATEGORY.items() for type_ in types}
)

#: category -> its types
CATEGORIES: Mapping[str, frozenset[str]] = MappingProxyType(
    {category: frozenset(types) for category, types in _BY_CATEGORY.items()}
)


def category_of(type_name: str) -> str | None:
    """The category of a type, None for an unknown name (callers decide whether that is an error)."""
    return TYPES.get(type_name)
