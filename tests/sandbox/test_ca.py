"""Tests of the sandbox certificate authority, verified by real TLS handshakes in memory."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from sandbox.ca import SandboxCA


@pytest.fixture(scope="module")
def ca() -> SandboxCA:
    return SandboxCA()


def _handshake(trust_pem: str, cert_pem: str, key_pem: str, hostname: str, tmp: Path) -> None:
    """Run a TLS handshake between two in-memory endpoints; raises ssl.SSLError on failure."""
    (tmp / "c.pem").write_text(cert_pem)
    (tmp / "k.pem").write_text(key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    client_ctx = ssl.create_default_context(cadata=trust_pem)
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, obj, out_bio, peer_in in (
            ("client", client, c_out, s_in),
            ("server", server, s_out, c_in),
        ):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out_bio.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def test_certificate_verifies_for_its_name(ca: SandboxCA, tmp_path: Path) -> None:
    cert, key = ca.issue(["kubeflow.sub.example.com"])
    _handshake(ca.cert_pem, cert, key, "kubeflow.sub.example.com", tmp_path)


def test_certificate_rejected_for_another_name(ca: SandboxCA, tmp_path: Path) -> None:
    cert, key = ca.issue(["kubeflow.sub.example.com"])
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _handshake(ca.cert_pem, cert, key, "other.sub.example.com", tmp_path)


def test_wildcard_covers_exactly_one_label(ca: SandboxCA, tmp_path: Path) -> None:
    cert, key = ca.issue(["*.sub.example.com", "sub.example.com"])
    _handshake(ca.cert_pem, cert, key, "kubeflow.sub.example.com", tmp_path)
    _handshake(ca.cert_pem, cert, key, "sub.example.com", tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(ca.cert_pem, cert, key, "a.kubeflow.sub.example.com", tmp_path)


def test_ip_address_san(ca: SandboxCA, tmp_path: Path) -> None:
    cert, key = ca.issue(["localhost", "127.0.0.1"])
    _handshake(ca.cert_pem, cert, key, "127.0.0.1", tmp_path)
    parsed = x509.load_pem_x509_certificate(cert.encode())
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]


def test_untrusted_ca_is_rejected(ca: SandboxCA, tmp_path: Path) -> None:
    cert, key = SandboxCA().issue(["kubeflow.sub.example.com"])
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(ca.cert_pem, cert, key, "kubeflow.sub.example.com", tmp_path)


def test_rsa_keys(tmp_path: Path) -> None:
    ca = SandboxCA(key_type="rsa")
    cert, key = ca.issue(["api.sandbox.local"], key_type="rsa")
    assert "BEGIN PRIVATE KEY" in key
    _handshake(ca.cert_pem, cert, key, "api.sandbox.local", tmp_path)


def test_client_certificate_subject(ca: SandboxCA) -> None:
    cert, _ = ca.issue([], common_name="admin", organization="system:masters", client=True)
    parsed = x509.load_pem_x509_certificate(cert.encode())
    assert parsed.subject.rfc4514_string() == "CN=admin,O=system:masters"
    usages = parsed.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usages


def test_issue_needs_a_name(ca: SandboxCA) -> None:
    with pytest.raises(ValueError, match="at least one name"):
        ca.issue([])


def test_issue_files_and_bundle(ca: SandboxCA, tmp_path: Path) -> None:
    cert_path, key_path = ca.issue_files(tmp_path / "tls", "apiserver", ["127.0.0.1"])
    assert (cert_path.name, key_path.name) == ("apiserver.crt", "apiserver.key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    bundle = ca.write_bundle(tmp_path / "ca" / "bundle.pem")
    ctx = ssl.create_default_context(cafile=bundle)
    assert ctx.get_ca_certs()[0]["subject"][-1] == (("commonName", "kubeflow-alb sandbox CA"),)
    _handshake(
        bundle.read_text(), cert_path.read_text(), key_path.read_text(), "127.0.0.1", tmp_path
    )


def test_round_trip_through_pem(ca: SandboxCA, tmp_path: Path) -> None:
    loaded = SandboxCA.from_pem(ca.cert_pem, ca.key_pem)
    assert loaded.cert_pem == ca.cert_pem
    cert, key = loaded.issue(["kubeflow.sub.example.com"])
    _handshake(ca.cert_pem, cert, key, "kubeflow.sub.example.com", tmp_path)
