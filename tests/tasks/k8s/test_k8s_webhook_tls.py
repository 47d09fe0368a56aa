"""Webhook TLS: generated for the webhook Service, re-used while valid, replaced otherwise."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography import x509

from tasks.k8s import webhook_tls
from tasks.k8s.webhook_tls import WebhookTls

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def as_secret_data(tls: WebhookTls) -> dict[str, str]:
    return {
        "ca.crt": base64.b64encode(tls.ca_pem).decode(),
        "tls.crt": base64.b64encode(tls.cert_pem).decode(),
        "tls.key": base64.b64encode(tls.key_pem).decode(),
    }


def test_generated_certificate_names_the_webhook_service_and_chains_to_the_ca() -> None:
    tls = webhook_tls.generate(NOW)
    cert = x509.load_pem_x509_certificate(tls.cert_pem)
    ca = x509.load_pem_x509_certificate(tls.ca_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [
        "aws-load-balancer-webhook-service.kube-system.svc",
        "aws-load-balancer-webhook-service.kube-system.svc.cluster.local",
    ]
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert webhook_tls.problem(tls, NOW) is None


def test_valid_secret_is_reused_so_a_rerun_changes_nothing() -> None:
    tls = webhook_tls.generate(NOW)
    again = webhook_tls.from_secret_data(as_secret_data(tls))
    assert again == tls
    assert webhook_tls.problem(tls, NOW + timedelta(days=300)) is None


def test_certificate_near_its_end_is_replaced() -> None:
    tls = webhook_tls.generate(NOW)
    late = NOW + webhook_tls.CERT_VALIDITY - timedelta(days=10)
    reason = webhook_tls.problem(tls, late)
    assert reason is not None
    assert "renewing" in reason
    assert webhook_tls.problem(webhook_tls.generate(late), late) is None


def test_mismatched_or_missing_material_is_replaced() -> None:
    one, other = webhook_tls.generate(NOW), webhook_tls.generate(NOW)
    mixed = WebhookTls(ca_pem=other.ca_pem, cert_pem=one.cert_pem, key_pem=one.key_pem)
    assert webhook_tls.problem(mixed, NOW) == "certificate is not signed by the CA"
    wrong_key = WebhookTls(ca_pem=one.ca_pem, cert_pem=one.cert_pem, key_pem=other.key_pem)
    assert webhook_tls.problem(wrong_key, NOW) == "private key does not match the certificate"
    assert webhook_tls.from_secret_data(None) is None
    partial = as_secret_data(one)
    del partial["tls.key"]
    assert webhook_tls.from_secret_data(partial) is None
    garbage = {**as_secret_data(one), "tls.crt": base64.b64encode(b"nope").decode()}
    unreadable = webhook_tls.from_secret_data(garbage)
    assert unreadable is not None
    reason = webhook_tls.problem(unreadable, NOW)
    assert reason is not None
    assert reason.startswith("unreadable")
