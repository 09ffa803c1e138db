import pytest


@pytest.mark.parametrize(
    "text, expected",
    [
        ("from 192.168.1.20 at noon", "192.168.1.20"),
        ("client 2001:db8::8a2e:370:7334 connected", "2001:db8::8a2e:370:7334"),
        ("fe80::1", "fe80::1"),
        ("10.0.0.0/8", "10.0.0.0"),
    ],
)
def test_ip_addresses_are_found(found, text: str, expected: str) -> None:
    assert ("ip_address", expected) in found(text)


@pytest.mark.parametrize(
    "text", ["999.1.1.1", "version 1.2.3.4", "12:30:45", "1.2.3", "00:1A:2B:3C:4D:5E", "::"]
)
def test_non_addresses(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "ip_address"] == []
