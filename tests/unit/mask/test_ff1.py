import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import MaskingError
from veil.mask.ff1 import BASE36, DIGITS, FF1

K128 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
K192 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F")
K256 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94")
T1 = bytes.fromhex("39383736353433323130")
T36 = bytes.fromhex("3737373770717273373737")

# NIST SP 800-38G FF1 samples 1-9 (AES-128, -192, -256)
VECTORS = [
    (K128, DIGITS, b"", "0123456789", "2433477484"),
    (K128, DIGITS, T1, "0123456789", "6124200773"),
    (K128, BASE36, T36, "0123456789abcdefghi", "a9tv40mll9kdu509eum"),
    (K192, DIGITS, b"", "0123456789", "2830668132"),
    (K192, DIGITS, T1, "0123456789", "2496655549"),
    (K192, BASE36, T36, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"),
    (K256, DIGITS, b"", "0123456789", "6657667009"),
    (K256, DIGITS, T1, "0123456789", "1001623463"),
    (K256, BASE36, T36, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"),
]


@pytest.mark.parametrize(("key", "alphabet", "tweak", "pt", "ct"), VECTORS)
def test_nist_samples(key, alphabet, tweak, pt, ct):
    ff1 = FF1(key, alphabet)
    assert ff1.encrypt(pt, tweak) == ct
    assert ff1.decrypt(ct, tweak) == pt


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=DIGITS, min_size=6, max_size=40), st.binary(max_size=20))
def test_round_trip(pt, tweak):
    ff1 = FF1(K256)
    ct = ff1.encrypt(pt, tweak)
    assert len(ct) == len(pt) and set(ct) <= set(DIGITS)
    assert ff1.decrypt(ct, tweak) == pt


def test_domain_and_alphabet_limits():
    ff1 = FF1(K128)
    with pytest.raises(MaskingError):
        ff1.encrypt("12345")  # 10**5 < 1,000,000
    with pytest.raises(MaskingError):
        ff1.encrypt("12345a")
    with pytest.raises(MaskingError):
        FF1(b"short")


def test_tokenize_method_is_reversible_and_format_preserving():
    from veil.mask.engine import MaskEngine
    from veil.mask.keys import Keyring

    ring = Keyring.generate()
    engine = MaskEngine(ring)
    token = engine.mask_text("credit_card", "tokenize", "4539 1488 0343 6467")
    assert token != "4539 1488 0343 6467" and len(token) == 19 and token[4] == " "
    assert engine.unmask_text("credit_card", token) == "4539 1488 0343 6467"
    note = engine.mask_text("passport", "tokenize", "X1234567")
    assert engine.unmask_text("passport", note) == "X1234567"
    # rotation: tokens made under k1 still reverse with k1 named explicitly
    rotated = MaskEngine(ring.rotated())
    assert rotated.unmask_text("credit_card", token, key_id="k1") == "4539 1488 0343 6467"
    assert rotated.unmask_text("credit_card", token) != "4539 1488 0343 6467"
    assert engine.mask_text("us_ssn", "tokenize", "12-34") == "[REDACTED]"  # too short for FF1
    with pytest.raises(MaskingError):
        engine.unmask_text("us_ssn", "12-34")
