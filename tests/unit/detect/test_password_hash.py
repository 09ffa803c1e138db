import hashlib

import pytest
from scramp import ScramMechanism


def test_bcrypt_and_crypt_hashes(found) -> None:
    bcrypt = "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2O" + "PST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
    sha512 = "$6$saltsalt$" + "q" * 86
    assert found(bcrypt) == [("secret", bcrypt)]
    assert found(f"hash={sha512}") == [("secret", sha512)]


def test_argon2(found) -> None:
    value = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
    assert found(value) == [("secret", value)]


def test_scram_verifier(found) -> None:
    salt, stored, server, it = ScramMechanism("SCRAM-SHA-256").make_auth_info("pw", iteration_count=4096)
    import base64

    b = lambda x: base64.b64encode(x).decode()  # noqa: E731
    verifier = f"SCRAM-SHA-256${it}:{b(salt)}${b(stored)}:{b(server)}"
    assert found(verifier) == [("secret", verifier)]


@pytest.mark.parametrize("text", ["$2b$12$short", hashlib.sha256(b"x").hexdigest(), "$5$"])
def test_not_password_hashes(found, text: str) -> None:
    assert found(text) == []
