"""TLS towards clients with a CA made in the test: libpq's sslmodes, channel binding, minimum version.

Why: a proxy that terminates TLS is only as good as its handshake.  libpq clients
must be able to verify veil's certificate against the organisation's CA
(``verify-full``), SCRAM-SHA-256-PLUS must bind the login to that certificate so a
man in the middle with another certificate cannot relay it (``channel_binding=require``),
and protocol versions below the configured minimum must be refused by veil itself,
not just by a well-behaved client.

Token logins from a non-loopback address without TLS, and ``tls.require`` (refuse every
plaintext client), are tested in ``test_tls_policy.py`` with a real non-loopback peer;
here, without ``tls.require``, plaintext stays allowed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg.conninfo import make_conninfo

from tests.support.proxy import VeilProcess, basic_config, running_veil
from tests.support.services import PgServer, temp_database

USER, PASSWORD = "tlsuser", "tls-user-pw-1"


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    other_ca_cert: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(directory: Path) -> Pki:
    ca_key, ca_cert = _ca("veil test CA")
    _, other_ca = _ca("some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(
        directory / "ca.pem", directory / "server.pem", directory / "server.key", directory / "other-ca.pem"
    )
    pki.ca_cert.write_bytes(_pem(ca_cert))
    pki.other_ca_cert.write_bytes(_pem(other_ca))
    pki.server_cert.write_bytes(_pem(cert))
    pki.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pki.server_key.chmod(0o600)
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _veil_config(pg_dsn: str, pki: Pki, min_version: str = "1.2") -> dict[str, object]:
    return basic_config(
        pg_dsn,
        [(USER, PASSWORD, ["tls"], "human")],
        tls={"cert": f"file:{pki.server_cert}", "key": f"file:{pki.server_key}", "min_version": min_version},
    )


@pytest.fixture(scope="module")
def tls_veil(
    pg_server: PgServer, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VeilProcess]:
    """One veil for the read-only checks (starting one per test costs seconds on a loaded box)."""
    with (
        temp_database(pg_server, prefix="veil_tls") as dsn,
        running_veil(_veil_config(dsn, pki), tmp_path=tmp_path_factory.mktemp("tls")) as veil,
    ):
        yield veil


def _connect(veil: VeilProcess, **params: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(make_conninfo(veil.dsn(USER, PASSWORD), **params))


def test_sslmode_require_encrypts_and_works(tls_veil: VeilProcess) -> None:
    with _connect(tls_veil, sslmode="require") as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


def test_verify_full_accepts_our_ca_and_rejects_another(tls_veil: VeilProcess, pki: Pki) -> None:
    for host in ("localhost", "127.0.0.1"):
        with _connect(
            tls_veil, sslmode="verify-full", sslrootcert=str(pki.ca_cert), host=host, hostaddr="127.0.0.1"
        ) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        _connect(tls_veil, sslmode="verify-full", sslrootcert=str(pki.other_ca_cert))
    with pytest.raises(psycopg.OperationalError, match=r"does not match host name|server certificate"):
        _connect(
            tls_veil,
            sslmode="verify-full",
            sslrootcert=str(pki.ca_cert),
            host="veil.invalid",
            hostaddr="127.0.0.1",
        )


def test_channel_binding_require_uses_scram_plus(tls_veil: VeilProcess, pki: Pki) -> None:
    with _connect(
        tls_veil, sslmode="verify-ca", sslrootcert=str(pki.ca_cert), channel_binding="require"
    ) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT current_user IS NOT NULL").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(
            make_conninfo(tls_veil.dsn(USER, "wrong-pw"), sslmode="require", channel_binding="require")
        ).close()
    # without TLS there is nothing to bind to: veil must not advertise -PLUS, so libpq refuses
    with pytest.raises(psycopg.OperationalError, match="channel binding"):
        _connect(tls_veil, sslmode="disable", channel_binding="require").close()


def test_plaintext_still_allowed_when_tls_is_configured(tls_veil: VeilProcess) -> None:
    with _connect(tls_veil, sslmode="disable") as conn:
        assert not conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _handshake(veil: VeilProcess, maximum: ssl.TLSVersion, minimum: ssl.TLSVersion) -> str:
    """SSLRequest, then a TLS handshake capped at ``maximum``; the negotiated version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: exactly what we try
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version, ctx.maximum_version = minimum, maximum
    with socket.create_connection((veil.host, veil.port), timeout=10) as raw:
        raw.sendall(struct.pack("!II", 8, 80877103))
        assert raw.recv(1) == b"S"
        with ctx.wrap_socket(raw) as tls:
            return str(tls.version())


def test_tls_below_the_minimum_is_refused(tls_veil: VeilProcess) -> None:
    assert _handshake(tls_veil, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(tls_veil, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1)
    assert tls_veil.alive()
    with _connect(tls_veil, sslmode="require") as conn:  # and the next client is served
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_minimum_is_enforced_by_veil_itself(pg_dsn: str, pki: Pki, tmp_path: Path) -> None:
    # a client's own floor could explain the refusal above; with 1.3 configured, TLS 1.2 is refused
    with running_veil(_veil_config(pg_dsn, pki, "1.3"), tmp_path=tmp_path) as veil:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _handshake(veil, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
        assert _handshake(veil, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        with _connect(veil, sslmode="require") as conn:
            assert conn.pgconn.ssl_in_use
