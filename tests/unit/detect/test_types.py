from veil.detect import CATEGORIES, TYPES

INTERFACE_TYPES = {
    "email",
    "phone",
    "person_name",
    "street_address",
    "date_of_birth",
    "us_ssn",
    "national_id",
    "passport",
    "tax_id",
    "credit_card",
    "iban",
    "bank_account",
    "ip_address",
    "mac_address",
    "secret",
    "medical_record_number",
    "health",
    "geo_coordinates",
}


def test_types_are_exactly_the_interface_names() -> None:
    assert set(TYPES) == INTERFACE_TYPES


def test_categories_partition_the_types() -> None:
    assert set(CATEGORIES) == {
        "contact",
        "identity",
        "financial",
        "credential",
        "network",
        "health",
        "location",
    }
    union = [t for types in CATEGORIES.values() for t in types]
    assert sorted(union) == sorted(INTERFACE_TYPES)
    for category, types in CATEGORIES.items():
        assert all(TYPES[t] == category for t in types)


def test_every_type_has_a_detector() -> None:
    from veil.detect import builtin_detectors

    detectors = builtin_detectors()
    assert {d.type for d in detectors} == INTERFACE_TYPES
    names = [d.name for d in detectors]
    assert len(names) == len(set(names))
