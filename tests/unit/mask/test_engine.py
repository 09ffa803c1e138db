import ipaddress
import re

import pytest
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.es import dni
from stdnum.nl import bsn

from veil.errors import MaskingError
from veil.mask.engine import MaskEngine
from veil.mask.formats import lists
from veil.mask.keys import Keyring
from veil.values import Finding

EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


@pytest.fixture(scope="module")
def engine():
    return MaskEngine(Keyring.generate())


def test_email_pseudonym_is_valid_deterministic_and_keeps_webmail(engine):
    a = engine.mask_text("email", "pseudonymize", "ana.lopez@acme-corp.com")
    assert EMAIL.match(a) and a.endswith(".com") and "lopez" not in a and "acme" not in a
    assert engine.mask_text("email", "pseudonymize", "ana.lopez@acme-corp.com") == a
    assert engine.mask_text("email", "pseudonymize", "Ana.Lopez@ACME-corp.com") == a  # case-insensitive
    g = engine.mask_text("email", "pseudonymize", "ana.lopez@gmail.com")
    assert g.endswith("@gmail.com") and not g.startswith("ana.lopez")
    # one company's people share one pseudonymous domain
    b = engine.mask_text("email", "pseudonymize", "bob@acme-corp.com")
    assert a.split("@")[1] == b.split("@")[1]


def test_configured_webmail_domains():
    e = MaskEngine(Keyring.generate(), webmail_domains=["corp.example"])
    assert e.mask_text("email", "pseudonymize", "x@corp.example").endswith("@corp.example")
    assert not e.mask_text("email", "pseudonymize", "x@gmail.com").endswith("@gmail.com")


def test_phone_keeps_country_code_and_grouping(engine):
    out = engine.mask_text("phone", "pseudonymize", "+1 (415) 555-0123")
    assert re.fullmatch(r"\+1 \([2-9]\d\d\) \d{3}-\d{4}", out) and "0123" not in out
    de = engine.mask_text("phone", "pseudonymize", "+49 30 1234567")
    assert de.startswith("+49 ") and len(de) == len("+49 30 1234567")


def test_card_keeps_brand_and_length_and_is_luhn_valid(engine):
    for card in ("4111 1111 1111 1111", "378282246310005", "5555555555554444"):
        out = engine.mask_text("credit_card", "pseudonymize", card)
        digits = out.replace(" ", "")
        assert len(out) == len(card) and luhn.is_valid(digits)
        assert digits[0] == card[0]
    assert engine.mask_text("credit_card", "pseudonymize", "378282246310005")[:2] == "37"
    assert engine.mask_text("credit_card", "partial", "4111 1111 1111 1234") == "4111 11** **** 1234"


def test_ssn_is_in_the_never_issued_area(engine):
    for ssn in ("123-45-6789", "078051120"):
        out = engine.mask_text("us_ssn", "pseudonymize", ssn)
        digits = out.replace("-", "")
        assert len(out) == len(ssn) and 900 <= int(digits[:3]) <= 999
        assert digits[3:5] != "00" and digits[5:] != "0000"
    assert engine.mask_text("us_ssn", "partial", "123-45-6789") == "***-**-6789"


def test_iban_same_country_length_valid_check_digits(engine):
    for value in ("DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"):
        out = engine.mask_text("iban", "pseudonymize", value)
        assert out[:2] == value[:2] and len(out) == len(value) and std_iban.is_valid(out), out


def test_national_ids_keep_a_valid_checksum(engine):
    assert bsn.is_valid(engine.mask_text("national_id", "pseudonymize", "111222333"))
    out = engine.mask_text("national_id", "pseudonymize", "12345678Z")
    assert dni.is_valid(out) and out != "12345678Z"


def test_names_come_from_keyed_lists_and_keep_shape(engine):
    out = engine.mask_text("person_name", "pseudonymize", "Ana Lopez")
    first, last = out.split(" ")
    assert first in lists.first_names() and last in lists.last_names()
    assert engine.mask_text("person_name", "pseudonymize", "ANA  lopez".upper()) == out.upper()
    first_name, last_name = out.split(" ")
    assert engine.mask_text("person_name", "pseudonymize", "Lopez, Ana") == f"{last_name}, {first_name}"
    assert engine.mask_text("person_name", "partial", "Ana Lopez") == "A. L."
    addr = engine.mask_text("street_address", "pseudonymize", "123 Main Street, Springfield")
    assert re.match(r"^\d{1,3} \w+ \w+, \w+$", addr) and "Main" not in addr


def test_ip_is_prefix_preserving(engine):
    a = ipaddress.ip_address(engine.mask_text("ip_address", "pseudonymize", "10.1.2.3"))
    b = ipaddress.ip_address(engine.mask_text("ip_address", "pseudonymize", "10.1.2.200"))
    c = ipaddress.ip_address(engine.mask_text("ip_address", "pseudonymize", "10.1.99.3"))
    assert int(a) >> 8 == int(b) >> 8  # same /24
    assert int(a) >> 16 == int(c) >> 16 and int(a) >> 8 != int(c) >> 8  # same /16, different /24
    v6 = ipaddress.ip_address(engine.mask_text("ip_address", "pseudonymize", "2001:db8::1"))
    assert v6.version == 6
    assert engine.mask_text("ip_address", "generalize", "10.1.2.3") == "10.1.2.0/24"


def test_dates_mac_geo(engine):
    assert engine.mask_text("date_of_birth", "generalize", "1985-03-14") == "1985"
    shifted = engine.mask_text("date_of_birth", "pseudonymize", "14.03.1985")
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", shifted) and shifted != "14.03.1985"
    mac = engine.mask_text("mac_address", "pseudonymize", "00:1A:2B:3C:4D:5E")
    assert re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", mac) and int(mac[:2], 16) & 0x03 == 0x02
    assert engine.mask_text("geo_coordinates", "pseudonymize", "52.5200, 13.4050") == "52.5, 13.4"


def test_other_methods(engine):
    assert engine.mask_value("email", "null", "a@b.com") is None
    assert engine.mask_text("email", "null", "a@b.com") == ""
    assert engine.mask_value("email", "none", "a@b.com") == "a@b.com"
    assert engine.mask_text("email", "redact", "a@b.com") == "redacted@redacted.invalid"
    assert engine.mask_text("passport", "redact", "X1234567") == "[REDACTED]"
    h = engine.mask_text("email", "hash", "a@b.com")
    assert re.fullmatch(r"[0-9a-f]{32}", h) and h != engine.mask_text("phone", "hash", "a@b.com")
    assert engine.mask_text(None, "generalize", "37") == "30-39"  # type: ignore[arg-type]
    with pytest.raises(MaskingError):
        engine.mask_value("email", "scramble", "a@b.com")


def test_different_keys_give_different_pseudonyms_same_key_same(engine):
    ring = Keyring.generate()
    one, two = MaskEngine(ring), MaskEngine(Keyring.from_json(ring.to_json()))
    other = MaskEngine(Keyring.generate())
    v = "ana.lopez@acme-corp.com"
    assert one.mask_text("email", "pseudonymize", v) == two.mask_text("email", "pseudonymize", v)
    assert one.mask_text("email", "pseudonymize", v) != other.mask_text("email", "pseudonymize", v)


@pytest.mark.parametrize(("mask_map", "type_", "method"), [
    ({"default": "pseudonymize"}, "email", "pseudonymize"),
    ({"default": "pseudonymize", "contact": "partial"}, "email", "partial"),
    ({"default": "pseudonymize", "contact": "partial", "email": "hash"}, "email", "hash"),
    ({"default": "pseudonymize"}, "secret", "redact"),
    ({"default": "none", "credential": "pseudonymize"}, "secret", "redact"),
    ({"default": "none", "secret": "pseudonymize"}, "secret", "pseudonymize"),
    ({"default": "pseudonymize"}, "date_of_birth", "generalize"),
    ({"date_of_birth": "pseudonymize"}, "date_of_birth", "pseudonymize"),
    ({}, "email", "pseudonymize"),  # no default: fail closed
    ({"default": "none"}, "email", "none"),
])
def test_resolve_method(engine, mask_map, type_, method):
    assert engine.resolve_method(type_, mask_map) == method


def test_resolve_method_rejects_unknown_methods(engine):
    with pytest.raises(MaskingError):
        engine.resolve_method("email", {"default": "scramble"})


def test_mask_spans_is_consistent_and_skips_overlaps(engine):
    text = "mail ana@acme.org or ana@acme.org, ssn 123-45-6789"
    findings = [Finding("email", 5, 17, 0.9, "email"), Finding("email", 21, 33, 0.9, "email"),
                Finding("us_ssn", 39, 50, 0.9, "us_ssn"), Finding("phone", 40, 48, 0.4, "phone")]
    out = engine.mask_spans(text, findings, {"default": "pseudonymize"})
    masked = engine.mask_text("email", "pseudonymize", "ana@acme.org")
    assert out.count(masked) == 2 and "ana@acme.org" not in out and "6789" not in out
    assert out.startswith("mail ") and " or " in out


def test_cache_is_bounded_and_used():
    e = MaskEngine(Keyring.generate(), cache_size=2)
    for v in ("a@x.com", "b@x.com", "c@x.com", "c@x.com"):
        e.mask_text("email", "pseudonymize", v)
    info = e.cache_info()
    assert info.currsize == 2 and info.hits == 1


def test_two_processes_with_one_key_file_agree(tmp_path):
    import subprocess
    import sys

    ring = Keyring.generate()
    ring.save(tmp_path / "masking.key")
    script = (
        "import sys\n"
        "from veil.mask.engine import MaskEngine\n"
        "from veil.mask.keys import Keyring\n"
        "e = MaskEngine(Keyring.load(sys.argv[1]))\n"
        "for t, v in [('email', 'ana@acme.org'), ('us_ssn', '123-45-6789'), ('person_name', 'Ana Lopez'),\n"
        "             ('ip_address', '10.1.2.3'), ('credit_card', '4539 1488 0343 6467')]:\n"
        "    print(e.mask_text(t, 'pseudonymize', v))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", script, str(tmp_path / "masking.key")], capture_output=True,
                           text=True, check=True, env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
            for seed in ("1", "2")]
    assert runs[0] == runs[1] and len(runs[0].splitlines()) == 5
    here = MaskEngine(ring)
    assert runs[0].splitlines()[0] == here.mask_text("email", "pseudonymize", "ana@acme.org")


def test_json_keys_with_strong_hints_mask_the_whole_value(engine):
    from veil.mask.jsonmask import mask_json

    doc = ('{"id": 1, "full_name": "Ana Lopez", "ssn": "078-05-1120", "card_number": 4539148803436467,'
           ' "contact": {"email": "x@y.org"}, "created_at": "2024-01-01", "ok": true, "x": null}')
    out = mask_json(engine, doc, None, "pseudonymize", {"default": "pseudonymize"})
    for planted in ("Ana Lopez", "078-05-1120", "4539148803436467", "x@y.org"):
        assert planted not in out
    assert out.startswith('{"id": 1, "full_name": "')
    assert out.endswith('"created_at": "2024-01-01", "ok": true, "x": null}')
