from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_whole_pem_key_is_one_finding(found) -> None:
    pem = _pem()
    assert found(f"key:\n{pem}\nend") == [("secret", pem.strip())]


def test_key_inside_json_with_escaped_newlines(found) -> None:
    pem = _pem().replace("\n", "\\n")
    text = '{"type": "x", "private_key": "' + pem + '"}'
    assert [t for t, _ in found(text)] == ["secret"]


def test_public_key_is_not_a_secret(found) -> None:
    assert (
        found("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----")
        == []
    )
