from faker import Faker

from veil.detect import classify_column


def _fake(method: str, n: int = 40, locale: str = "en_US") -> list[str]:
    fake = Faker(locale)
    fake.seed_instance(7)
    return [str(getattr(fake, method)()) for _ in range(n)]


def test_values_alone_classify_a_column() -> None:
    result = classify_column("c1", "text", _fake("email"))
    assert result.primary == "email" and result.types[0].why == "values" and not result.clean
    assert result.types[0].share == 1.0


def test_name_and_values_agree() -> None:
    result = classify_column("customer_email", "text", _fake("email"))
    assert result.types[0].why == "both"
    assert result.types[0].confidence >= 0.95


def test_hint_only_type_needs_name_and_shape() -> None:
    names = _fake("name")
    assert classify_column("full_name", "text", names).primary == "person_name"
    assert classify_column("label", "text", names).clean


def test_a_few_coincidences_are_demoted() -> None:
    sample = [f"INV-{i:06d}" for i in range(95)] + ["+1 415 555 0132"] * 2 + [None] * 3
    result = classify_column("reference", "text", sample)
    assert result.clean and result.sampled == 97


def test_free_text_columns_get_span_types() -> None:
    sample = [
        "Customer called about the refund, please email jane@example.com back today",
        "Package arrived damaged, customer wants a replacement sent quickly",
        "Asked to update phone to +44 20 7946 0958 and confirm by letter",
    ]
    result = classify_column("notes", "text", sample)
    assert result.free_text
    assert {g.type for g in result.types} == {"email", "phone"}


def test_postgres_types() -> None:
    assert classify_column("client_addr", "inet", ["10.0.0.1"]).primary == "ip_address"
    assert classify_column("hw", "macaddr", []).primary == "mac_address"
    assert classify_column("email", "boolean", ["true"]).clean
    assert classify_column("birth_date", "date", ["1985-03-12"]).primary == "date_of_birth"
    assert classify_column("created_at", "timestamptz", ["2024-01-01 10:00:00+00"]).clean


def test_empty_sample_uses_the_name() -> None:
    result = classify_column("ssn", "text", [None, ""])
    assert result.primary == "us_ssn" and result.types[0].why == "name"


def test_vetoed_name_with_numbers_is_clean() -> None:
    sample = [str(4155550100 + i * 7919) for i in range(50)]
    assert classify_column("order_id", "bigint", sample).clean
