import json
import os
import stat

import pytest

from veil.errors import KeyError_
from veil.mask.keys import Keyring


def test_generate_save_load_round_trip(tmp_path):
    ring = Keyring.generate()
    path = tmp_path / "masking.key"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["active"] == ring.active_id == "k1"
    loaded = Keyring.load(f"file:{path}")
    assert loaded.subkey("pseudonymize/email") == ring.subkey("pseudonymize/email")


def test_save_refuses_to_overwrite(tmp_path):
    path = tmp_path / "masking.key"
    Keyring.generate().save(path)
    with pytest.raises(KeyError_, match="refusing"):
        Keyring.generate().save(path)


def test_subkeys_are_separated_by_purpose_key_and_tenant():
    ring = Keyring.generate()
    a = ring.subkey("pseudonymize/email")
    assert len(a) == 32
    assert a != ring.subkey("pseudonymize/phone")
    assert a != ring.subkey("pseudonymize/email", tenant="acme")
    assert ring.subkey("pseudonymize/email", tenant="acme") != ring.subkey("pseudonymize/email", tenant="b")
    assert a != Keyring.generate().subkey("pseudonymize/email")


def test_rotation_keeps_old_ids_and_activates_the_new_one():
    ring = Keyring.generate()
    old = ring.subkey("p")
    rotated = ring.rotated()
    assert rotated.active_id == "k2"
    assert rotated.key_ids == ("k1", "k2")
    assert rotated.subkey("p", "k1") == old
    assert rotated.subkey("p") != old
    with pytest.raises(KeyError_):
        rotated.rotated("k1")
    with pytest.raises(KeyError_, match="unknown"):
        ring.subkey("p", "k9")


def test_load_from_env(monkeypatch):
    ring = Keyring.generate()
    monkeypatch.setenv("VEIL_TEST_MASKING_KEY", ring.to_json())
    assert Keyring.load("env:VEIL_TEST_MASKING_KEY").subkey("x") == ring.subkey("x")
    with pytest.raises(KeyError_, match="not set"):
        Keyring.load("env:VEIL_TEST_MISSING_KEY_VAR")


def test_group_readable_key_file_is_refused(tmp_path):
    path = tmp_path / "k"
    Keyring.generate().save(path)
    os.chmod(path, 0o640)
    with pytest.raises(KeyError_, match="chmod 600"):
        Keyring.load(path)


@pytest.mark.parametrize("text", ["not json", '{"active": "k1"}', '{"active": "k2", "keys": {"k1": "AAAA"}}',
                                  '{"active": "k1", "keys": {"k1": "AAAA"}}', '{"active": 1, "keys": {}}'])
def test_malformed_key_files_are_refused_without_echoing_them(text):
    with pytest.raises(KeyError_) as info:
        Keyring.from_json(text)
    assert "AAAA" not in str(info.value)
