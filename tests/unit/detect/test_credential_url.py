import pytest


@pytest.mark.parametrize(
    "text, password",
    [
        ("postgresql://app:s3cr3tPW@db.internal:5432/app", "s3cr3tPW"),
        ("redis://:hunter2x@cache:6379/0", None),
        ("Server=db;User Id=sa;Password=Pa55w0rd!;", "Pa55w0rd!"),
        ("host=db user=app password=Tr0ub4dor dbname=x", "Tr0ub4dor"),
        ('{"user": "a", "password": "Xyz12345"}', "Xyz12345"),
    ],
)
def test_embedded_passwords(found, text: str, password: str | None) -> None:
    hits = found(text)
    if password:
        assert ("secret", password) in hits
    else:
        assert hits == [] or all(t == "secret" for t, _ in hits)


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://app@db/app",
        "https://example.com/a:b",
        "password=${DB_PASSWORD}",
        "postgres://u:****@h/db",
        "Password=<password>;",
    ],
)
def test_no_password_or_placeholder(found, text: str) -> None:
    assert found(text) == []
