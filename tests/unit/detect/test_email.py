import pytest


@pytest.mark.parametrize(
    "text, expected",
    [
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("Write to Max.Mustermann+news@mail.example.de today", "Max.Mustermann+news@mail.example.de"),
        ("<o'neil@sub.example.co.uk>", None),  # apostrophe: local part starts after it
        ("contact: anna_k@firma.berlin", "anna_k@firma.berlin"),
    ],
)
def test_emails_are_found(found, text: str, expected: str | None) -> None:
    hits = [v for t, v in found(text) if t == "email"]
    assert hits, text
    if expected:
        assert hits == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "user@host.local",
        "logger@v2.notatld",
        "user@@example.com",
        "not an email: a@b",
        "@example.com",
        "x@.com",
    ],
)
def test_non_emails_are_not_found(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "email"] == []
