"""Properties of pseudonymize over generated values: deterministic per key, different across keys,
valid for the type, and no 4-character run of the original survives."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban as std_iban
from stdnum import luhn

from veil.mask.engine import MaskEngine
from veil.mask.formats.digits import digits_of
from veil.mask.keys import Keyring

ONE = MaskEngine(Keyring.generate(), cache_size=0)
ONE_AGAIN = MaskEngine(Keyring.from_json(ONE.keyring.to_json()), cache_size=0)
OTHER = MaskEngine(Keyring.generate(), cache_size=0)
EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
SETTINGS = settings(max_examples=150, deadline=None)

local_parts = st.from_regex(r"[a-z][a-z0-9._]{2,20}[a-z0-9]", fullmatch=True)
labels = st.from_regex(r"[a-z][a-z0-9-]{2,15}[a-z]", fullmatch=True)
emails = st.builds(lambda lp, d, tld: f"{lp}@{d}.{tld}", local_parts, labels,
                   st.sampled_from(["com", "org", "de"]))
cards = st.builds(lambda head, body: head + body, st.sampled_from(["4", "51", "37", "6011"]),
                  st.text(alphabet="0123456789", min_size=11, max_size=14)).map(
    lambda p: p + str((10 - luhn.checksum(p + "0")) % 10))
ssns = st.from_regex(r"[0-8][0-9]{2}-[0-9]{2}-[0-9]{4}", fullmatch=True)
phones = st.builds(lambda cc, n: f"+{cc} {n[:3]} {n[3:6]} {n[6:]}",
                   st.sampled_from(["1", "44", "49", "33", "353"]),
                   st.text(alphabet="0123456789", min_size=9, max_size=10))


def _no_run(original: str, masked: str) -> bool:
    o, m = original.casefold(), masked.casefold()
    return not any(o[i : i + 4] in m for i in range(len(o) - 3))


def _mod97(value: str) -> bool:
    rearranged = value[4:] + value[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ibans():
    def build(country: str, bban: str) -> str:
        rearranged = bban + country + "00"
        check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
        return f"{country}{check:02d}{bban}"

    return st.builds(build, st.sampled_from(["DE", "FR", "GB", "NL"]),
                     st.text(alphabet="0123456789", min_size=14, max_size=22))


@SETTINGS
@given(emails)
def test_email(value):
    out = ONE.mask_text("email", "pseudonymize", value)
    assert EMAIL.match(out)
    assert out == ONE_AGAIN.mask_text("email", "pseudonymize", value)
    assert out != OTHER.mask_text("email", "pseudonymize", value)
    local, domain = value.split("@")
    out_local, out_domain = out.split("@")
    assert _no_run(local, out_local)
    assert _no_run(domain.rsplit(".", 1)[0], out_domain)


@SETTINGS
@given(cards)
def test_card(value):
    out = ONE.mask_text("credit_card", "pseudonymize", value)
    assert luhn.is_valid(out) and len(out) == len(value) and out[0] == value[0]
    assert out == ONE_AGAIN.mask_text("credit_card", "pseudonymize", value)
    assert out != OTHER.mask_text("credit_card", "pseudonymize", value)
    assert _no_run(value, out)


@SETTINGS
@given(ssns)
def test_ssn(value):
    out = ONE.mask_text("us_ssn", "pseudonymize", value)
    assert re.fullmatch(r"9\d\d-\d\d-\d{4}", out)
    assert out == ONE_AGAIN.mask_text("us_ssn", "pseudonymize", value)
    assert _no_run(value.replace("-", ""), out.replace("-", ""))


@SETTINGS
@given(phones)
def test_phone(value):
    out = ONE.mask_text("phone", "pseudonymize", value)
    cc = value.split(" ")[0]
    assert out.split(" ")[0] == cc and len(out) == len(value)
    assert out == ONE_AGAIN.mask_text("phone", "pseudonymize", value)
    national = digits_of(value)[len(cc) - 1 :]
    assert _no_run(national, digits_of(out)[len(cc) - 1 :])


def test_real_ibans_stay_valid_for_their_country():
    for value in ("DE89370400440532013000", "GB82WEST12345698765432", "NL91ABNA0417164300"):
        assert std_iban.is_valid(ONE.mask_text("iban", "pseudonymize", value))


@SETTINGS
@given(_ibans())
def test_iban(value):
    out = ONE.mask_text("iban", "pseudonymize", value)
    assert _mod97(out) and out[:2] == value[:2] and len(out) == len(value)
    assert out == ONE_AGAIN.mask_text("iban", "pseudonymize", value)
    assert _no_run(value, out)


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=40), st.sampled_from(["passport", "bank_account", "health", "person_name",
                                                          "street_address", "date_of_birth", "ip_address"]))
def test_any_text_of_any_type_masks_deterministically_without_error(value, data_type):
    out = ONE.mask_text(data_type, "pseudonymize", value)
    assert out == ONE_AGAIN.mask_text(data_type, "pseudonymize", value)
    for method in ("partial", "redact", "hash", "generalize"):
        assert isinstance(ONE.mask_text(data_type, method, value), str)


def _common_prefix(a: int, b: int, bits: int) -> int:
    x = a ^ b
    return bits if x == 0 else bits - x.bit_length()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_ip_pseudonyms_preserve_exactly_the_common_prefix(a, b):
    import ipaddress

    ma = int(ipaddress.ip_address(ONE.mask_text("ip_address", "pseudonymize", str(ipaddress.ip_address(a)))))
    mb = int(ipaddress.ip_address(ONE.mask_text("ip_address", "pseudonymize", str(ipaddress.ip_address(b)))))
    assert _common_prefix(ma, mb, 32) == _common_prefix(a, b, 32)
