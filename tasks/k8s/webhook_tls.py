"""The controller's webhook TLS: a private CA and a serving certificate, re-used while still valid."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core import naming
from core.manifests import WEBHOOK_SERVICE

CA_VALIDITY = timedelta(days=3650)
CERT_VALIDITY = timedelta(days=1825)
#: A certificate closer than this to its end is replaced (a re-run or drift remediation renews it).
RENEW_BEFORE = timedelta(days=30)


def service_names(namespace: str = naming.CONTROLLER_NAMESPACE) -> tuple[str, ...]:
    """The names the API server uses to call the webhook Service."""
    base = f"{WEBHOOK_SERVICE}.{namespace}.svc"
    return (base, f"{base}.cluster.local")


@dataclass(frozen=True)
class WebhookTls:
    """PEM CA certificate, serving certificate and its private key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes = field(repr=False)


def generate(now: datetime | None = None) -> WebhookTls:
    """A new CA and a serving certificate for the webhook Service, signed by it."""
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)  # tolerate clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubeflow-alb webhook CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = service_names()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CERT_VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return WebhookTls(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def from_secret_data(data: Mapping[str, str] | None) -> WebhookTls | None:
    """The TLS material of a Secret's `data` (base64 values), or None when incomplete."""
    data = data or {}
    try:
        return WebhookTls(
            ca_pem=base64.b64decode(data["ca.crt"]),
            cert_pem=base64.b64decode(data["tls.crt"]),
            key_pem=base64.b64decode(data["tls.key"]),
        )
    except (KeyError, ValueError):
        return None


def problem(tls: WebhookTls, now: datetime | None = None) -> str | None:
    """Why this material cannot be re-used (None when it can): expiry, names, chain or key."""
    moment = now or datetime.now(UTC)
    try:
        ca = x509.load_pem_x509_certificate(tls.ca_pem)
        cert = x509.load_pem_x509_certificate(tls.cert_pem)
        key = serialization.load_pem_private_key(tls.key_pem, password=None)
    except ValueError as error:
        return f"unreadable ({error})"
    for what, item in (("CA", ca), ("certificate", cert)):
        if item.not_valid_before_utc > moment or item.not_valid_after_utc - RENEW_BEFORE < moment:
            return f"{what} valid until {item.not_valid_after_utc:%Y-%m-%d}, renewing"
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "certificate has no DNS names"
    if not set(service_names()) <= set(sans.get_values_for_type(x509.DNSName)):
        return "certificate does not name the webhook Service"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return "certificate is not signed by the CA"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != cert.public_key().public_bytes(
        encoding, public
    ):
        return "private key does not match the certificate"
    return None


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,  # EC keys agree (ECDHE) rather than encipher
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
