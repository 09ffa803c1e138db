import jwt as pyjwt


def test_a_signed_jwt_is_a_secret(found) -> None:
    token = pyjwt.encode({"sub": "alice", "iat": 1700000000}, "k" * 32, algorithm="HS256")
    assert found(f"Authorization: Bearer {token}") == [("secret", token)]


def test_eyj_lookalike_without_json_header_is_not(found) -> None:
    assert found("eyJub3RqcyBvbiBhdCBhbGw.eyJzdWIiOiJhIn0.abc") == []
