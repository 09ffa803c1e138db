import stat

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from veil.cli import cli
from veil.mask.keys import Keyring


def test_keys_generate_writes_all_files_with_private_modes(tmp_path):
    result = CliRunner().invoke(cli, ["keys", "generate", "--dir", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    d = tmp_path / "keys"
    for name in ("masking.key", "audit.key", "dev-issuer.ed25519"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
    Keyring.load(d / "masking.key")
    private = serialization.load_pem_private_key((d / "audit.key").read_bytes(), password=None)
    public = serialization.load_pem_public_key((d / "audit.pub").read_bytes())
    assert isinstance(private, Ed25519PrivateKey) and isinstance(public, Ed25519PublicKey)
    public.verify(private.sign(b"checkpoint"), b"checkpoint")
    dev = serialization.load_pem_private_key((d / "dev-issuer.ed25519").read_bytes(), password=None)
    assert isinstance(dev, Ed25519PrivateKey)


def test_keys_generate_refuses_to_overwrite_anything(tmp_path):
    (tmp_path / "audit.pub").write_text("keep me")
    result = CliRunner().invoke(cli, ["keys", "generate", "--dir", str(tmp_path)])
    assert result.exit_code != 0
    assert (tmp_path / "audit.pub").read_text() == "keep me"
    assert not (tmp_path / "masking.key").exists()
