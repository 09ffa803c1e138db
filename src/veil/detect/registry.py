"""The built-in detectors, in a fixed order (the order only breaks exact ties deterministically).

Registration is explicit: a detector exists because it is listed here, never because a
module happens to define a class.
"""

from __future__ import annotations

import functools

from veil.detect.base import Detector
from veil.detect.builtin.api_token import ApiTokenDetector
from veil.detect.builtin.bank_account import BankAccountDetector
from veil.detect.builtin.credential_url import CredentialUrlDetector
from veil.detect.builtin.credit_card import CreditCardDetector
from veil.detect.builtin.date_of_birth import DateOfBirthDetector
from veil.detect.builtin.email import EmailDetector
from veil.detect.builtin.geo_coordinates import GeoCoordinatesDetector
from veil.detect.builtin.health import HealthDetector
from veil.detect.builtin.high_entropy import HighEntropySecretDetector
from veil.detect.builtin.iban import IbanDetector
from veil.detect.builtin.ip_address import IpAddressDetector
from veil.detect.builtin.jwt import JwtDetector
from veil.detect.builtin.mac_address import MacAddressDetector
from veil.detect.builtin.medical_record_number import MedicalRecordNumberDetector
from veil.detect.builtin.national_id import NationalIdDetector
from veil.detect.builtin.passport import PassportDetector
from veil.detect.builtin.password_hash import PasswordHashDetector
from veil.detect.builtin.person_name import PersonNameDetector
from veil.detect.builtin.phone import PhoneDetector
from veil.detect.builtin.private_key import PrivateKeyDetector
from veil.detect.builtin.street_address import StreetAddressDetector
from veil.detect.builtin.tax_id import TaxIdDetector
from veil.detect.builtin.us_ssn import UsSsnDetector
from veil.detect.scanner import Scanner

BUILTIN: tuple[type[Detector], ...] = (
    ApiTokenDetector,
    PrivateKeyDetector,
    JwtDetector,
    PasswordHashDetector,
    CredentialUrlDetector,
    HighEntropySecretDetector,
    EmailDetector,
    CreditCardDetector,
    IbanDetector,
    UsSsnDetector,
    NationalIdDetector,
    TaxIdDetector,
    PhoneDetector,
    IpAddressDetector,
    MacAddressDetector,
    GeoCoordinatesDetector,
    DateOfBirthDetector,
    PassportDetector,
    BankAccountDetector,
    MedicalRecordNumberDetector,
    HealthDetector,
    PersonNameDetector,
    StreetAddressDetector,
)


def builtin_detectors() -> tuple[Detector, ...]:
    """Fresh instances of every built-in detector."""
    return tuple(cls() for cls in BUILTIN)


@functools.cache
def default_scanner() -> Scanner:
    """The scanner with every built-in detector, compiled once per process on first use."""
    return Scanner(builtin_detectors())
