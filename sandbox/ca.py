"""The sandbox certificate authority: issues the server and client certificates it signs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Clocks of the processes that verify these certificates may lag a little behind ours.
_BACKDATE = dt.timedelta(minutes=5)


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r}: use 'ec' or 'rsa'")


def _key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _san(name: str) -> x509.GeneralName:
    """An IP address SAN for a literal address, a DNS name SAN (wildcards included) otherwise."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name.rstrip(".").lower())


class SandboxCA:
    """A self-signed CA, made fresh (``SandboxCA()``) or loaded (``SandboxCA.from_pem``).

    The certificates follow the rules of strict verifiers (Python's ``VERIFY_X509_STRICT``, Go's
    crypto/x509 used by kubectl): critical basic constraints, key usages, subject and authority
    key identifiers, and names only in the subject alternative name extension.
    """

    def __init__(
        self,
        common_name: str = "kubeflow-alb sandbox CA",
        *,
        key_type: KeyType = "ec",
        valid_days: int = 3650,
    ) -> None:
        key = _new_key(key_type)
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubeflow-alb sandbox"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        self._key: PrivateKey = key
        self._cert = cert

    @classmethod
    def from_pem(cls, cert_pem: str, key_pem: str) -> SandboxCA:
        """Load a CA saved earlier with ``cert_pem`` and ``key_pem``."""
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError("the CA key must be an EC or RSA private key")
        ca = cls.__new__(cls)
        ca._key = key
        ca._cert = x509.load_pem_x509_certificate(cert_pem.encode())
        return ca

    @property
    def cert_pem(self) -> str:
        """The CA certificate in PEM: the trust bundle (``ssl`` ``cadata=``, kubeconfig)."""
        return self._cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        """The CA private key in PEM (PKCS#8), to save the CA across processes."""
        return _key_pem(self._key)

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    def write_bundle(self, path: str | os.PathLike[str]) -> Path:
        """Write the CA certificate to ``path`` (``SSL_CERT_FILE``, kubeconfig)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.cert_pem)
        return target

    def issue(
        self,
        names: Sequence[str],
        *,
        key_type: KeyType = "ec",
        common_name: str | None = None,
        organization: str | None = None,
        valid_days: int = 365,
        client: bool = False,
    ) -> tuple[str, str]:
        """Issue a certificate; returns ``(cert_pem, key_pem)``.

        Args:
            names: DNS names (wildcards such as ``*.sub.example.com`` allowed) and IP addresses
                (``127.0.0.1``), all placed in the subject alternative name extension.
            key_type: ``"ec"`` (P-256) or ``"rsa"`` (2048 bits).
            common_name: subject CN; defaults to the first name. Kubernetes reads the user from it.
            organization: subject O; Kubernetes reads the group from it.
            valid_days: validity from now.
            client: also allow client authentication (for Kubernetes client certificates).
        """
        if not names and common_name is None:
            raise ValueError("a certificate needs at least one name or a common name")
        key = _new_key(key_type)
        cn = common_name if common_name is not None else names[0].rstrip(".")
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn[:64])]
        if organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        usages = [ExtendedKeyUsageOID.SERVER_AUTH]
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    # RSA key exchange needs key encipherment; EC keys must not claim it.
                    key_encipherment=key_type == "rsa",
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_san(n) for n in names]), critical=False
            )
        cert = builder.sign(self._key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key)

    def issue_files(
        self,
        directory: str | os.PathLike[str],
        stem: str,
        names: Sequence[str],
        *,
        key_type: KeyType = "ec",
    ) -> tuple[Path, Path]:
        """Issue a certificate into ``directory/stem.crt`` and ``.key`` (mode 0600)."""
        cert_pem, key_pem = self.issue(names, key_type=key_type)
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
        cert_path.write_text(cert_pem)
        # Create the key file private from the start rather than chmod after writing.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key_pem)
        return cert_path, key_path
