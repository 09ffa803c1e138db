def test_entropy_alone_is_never_enough(found) -> None:
    assert found("q8Zr2LxT0vYp5WmN3kJd7HsB") == []


def test_secret_names_turn_tokens_into_secrets(found) -> None:
    token = "q8Zr2LxT0vYp5WmN3kJd7HsB"
    assert found(token, column="api_key") == [("secret", token)]
    assert found(token, column="config.clientSecret") == [("secret", token)]


def test_low_entropy_under_a_token_name_is_not(found) -> None:
    assert found("aaaaaaaaaaaaaaaaaaaa", column="token") == []


def test_any_password_value_is_a_secret(found) -> None:
    assert found("hunter22", column="password") == [("secret", "hunter22")]
    assert found("hunter22", column="password_hint") == []
