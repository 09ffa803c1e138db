import pytest


def test_formatted_ssn_is_found(found) -> None:
    assert found("SSN 536-90-4399 on file") == [("us_ssn", "536-90-4399")]


@pytest.mark.parametrize(
    "text", ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "078-05-1120"]
)
def test_ssa_rules_reject(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "us_ssn"] == []


def test_bare_nine_digits_need_a_hint(found) -> None:
    assert [t for t, _ in found("536904399") if t == "us_ssn"] == []
    assert found("536904399", column="ssn") == [("us_ssn", "536904399")]
    assert [t for t, _ in found("ssn: 536904399")] == ["us_ssn"]
