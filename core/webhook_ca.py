"""The controller's webhook TLS as observed state (pure): do both webhook configurations trust the
CA stored in the webhook's Secret?

The API server verifies the controller's serving certificate (from the Secret) against each
webhook's `caBundle`; a caBundle of another CA fails every Ingress write with `x509: certificate
signed by unknown authority`. So the controller item declares the field WEBHOOK_CA_FIELD, whose
value is WEBHOOK_CA_MATCHES exactly when every webhook of both configurations carries the
Secret's CA; anything else names the mismatch, and setup rebuilds the caBundles from the Secret.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence

from core import naming
from core.manifests import WEBHOOK_SECRET

#: The webhook configurations of the controller (one of each kind, the same name).
WEBHOOK_CONFIGURATION = "aws-load-balancer-webhook"
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
#: The controller's declared field, and its value when the caBundles are right.
WEBHOOK_CA_FIELD = "webhook caBundle"
WEBHOOK_CA_MATCHES = f"the CA of Secret {naming.CONTROLLER_NAMESPACE}/{WEBHOOK_SECRET}"


def _pem(encoded: str | None) -> bytes | None:
    """The PEM behind a base64 value (Secret data, caBundle), normalised; None if unreadable."""
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True).strip().replace(b"\r\n", b"\n")
    except (binascii.Error, ValueError):
        return None


def webhook_ca_state(
    secret_ca: str | None, bundles: Mapping[str, Sequence[tuple[str, str | None]]]
) -> str:
    """WEBHOOK_CA_MATCHES, or what is wrong, in words.

    Args:
        secret_ca: the Secret's `ca.crt` as stored (base64); None when there is no Secret.
        bundles: per webhook configuration kind, `(webhook name, caBundle)` of each webhook;
            a kind missing from the mapping has no configuration in the cluster.
    """
    ca = _pem(secret_ca)
    if ca is None:
        return f"no CA in Secret {naming.CONTROLLER_NAMESPACE}/{WEBHOOK_SECRET}"
    wrong = []
    for kind in WEBHOOK_KINDS:
        if kind not in bundles:
            wrong.append(f"no {kind} {WEBHOOK_CONFIGURATION}")
            continue
        others = [name for name, bundle in bundles[kind] if _pem(bundle) != ca]
        if others:
            wrong.append(f"another CA in {kind} {WEBHOOK_CONFIGURATION} ({', '.join(others)})")
    return "; ".join(wrong) if wrong else WEBHOOK_CA_MATCHES
