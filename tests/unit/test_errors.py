from veil.errors import ConfigError, PolicyDenied, ProtocolError, RemoteProtocolError, VeilError


def test_config_error_names_file_line_and_key() -> None:
    err = ConfigError("must be one of deny, read-only, read-write", key="policies[1].access",
                      source="veil.yaml", line=12)
    assert str(err) == "veil.yaml:12: policies[1].access: must be one of deny, read-only, read-write"
    assert isinstance(err, VeilError)


def test_protocol_errors_say_whose_fault() -> None:
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert PolicyDenied("no", policy="p").sqlstate == "42501"
