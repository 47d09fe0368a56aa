"""The controller's webhook TLS as stored in its Secret: written create-only, read back as the one
source of the webhook configurations' caBundles, and observed against them.

Two setups of the cluster's stacks installing at once must not each put their own CA in: the
first create of the Secret wins (the API server refuses the second with AlreadyExists), and the
loser uses the winner's material. A Secret that must be renewed (expiring, incomplete) is
replaced only at the version that was read, so of two renewals one wins and the other reads it.
"""

from __future__ import annotations

from typing import Any

from core import naming
from core.errors import KubernetesTransientError, OwnershipError
from core.kubestate import ApplyAction
from core.manifests import WEBHOOK_SECRET, Manifest, webhook_secret
from core.webhook_ca import WEBHOOK_CONFIGURATION, WEBHOOK_KINDS, webhook_ca_state
from tasks.k8s import webhook_tls
from tasks.k8s.apply import is_owned, resource_for
from tasks.k8s.clients import Kube
from tasks.k8s.cluster import get
from tasks.k8s.errors import translated
from tasks.k8s.webhook_tls import WebhookTls
from tasks.logs import run_logger

_SECRET = {"apiVersion": "v1", "kind": "Secret"}
_NAMESPACE = naming.CONTROLLER_NAMESPACE


def _write(kube: Kube, body: Manifest, *, version: str | None) -> bool:
    """Create the Secret (`version` None) or replace it at that resourceVersion; False when
    another writer was first (AlreadyExists / Conflict: 409)."""
    resource = resource_for(kube, _SECRET)
    assert resource is not None  # v1 Secrets are always served
    what = f"{'Creating' if version is None else 'Renewing'} Secret {_NAMESPACE}/{WEBHOOK_SECRET}"
    try:
        with translated(what):
            if version is None:
                resource.create(body=body, namespace=_NAMESPACE)
            else:
                body = {**body, "metadata": {**body["metadata"], "resourceVersion": version}}
                resource.replace(body=body, name=WEBHOOK_SECRET, namespace=_NAMESPACE)
    except KubernetesTransientError as error:
        if "(HTTP 409)" in error.message:
            return False
        raise
    return True


def stored_webhook_tls(
    kube: Kube, stack: str, *, adopt: bool = False
) -> tuple[WebhookTls, ApplyAction]:
    """The webhook TLS as stored in the Secret, made once if there is none (create-only) and
    renewed when it can no longer be used, with what was done to the Secret. A run that loses
    a create or renewal race reads and uses the winner's material. Raises OwnershipError for a
    Secret no kubeflow-alb stack made (unless `adopt`)."""
    for _ in range(5):  # each turn either returns or saw another writer's newer Secret
        live = get(kube, "v1", "Secret", WEBHOOK_SECRET, _NAMESPACE)
        if live is not None and not adopt and not is_owned(live, stack, shared=True):
            raise OwnershipError(
                f"Secret {_NAMESPACE}/{WEBHOOK_SECRET} exists without the labels of a "
                "kubeflow-alb stack, so it is not ours to change. Remove it (or the tool that "
                "installed it) first."
            )
        found = webhook_tls.from_secret_data((live or {}).get("data"))
        reason = "no TLS Secret yet" if live is None else "TLS Secret incomplete"
        if found is not None:
            reason = webhook_tls.problem(found) or ""
            if not reason:
                return found, "unchanged"
        made = webhook_tls.generate()
        body = webhook_secret(
            stack, ca_pem=made.ca_pem, cert_pem=made.cert_pem, key_pem=made.key_pem
        )
        version = None if live is None else str((live.get("metadata") or {}).get("resourceVersion"))
        if _write(kube, body, version=version):
            run_logger().info(
                "New webhook certificate in Secret %s/%s: %s", _NAMESPACE, WEBHOOK_SECRET, reason
            )
            return made, "created" if live is None else "changed"
    raise KubernetesTransientError(
        f"Secret {_NAMESPACE}/{WEBHOOK_SECRET} kept changing while it was written; retrying."
    )


def observe_webhook_ca(kube: Kube) -> str:
    """Whether both webhook configurations carry the Secret's CA (core.webhook_ca), as read now."""
    secret = get(kube, "v1", "Secret", WEBHOOK_SECRET, _NAMESPACE)
    bundles: dict[str, list[tuple[str, str | None]]] = {}
    for kind in WEBHOOK_KINDS:
        found = get(kube, "admissionregistration.k8s.io/v1", kind, WEBHOOK_CONFIGURATION)
        if found is not None:
            bundles[kind] = [_bundle(hook) for hook in found.get("webhooks") or []]
    return webhook_ca_state(((secret or {}).get("data") or {}).get("ca.crt"), bundles)


def _bundle(hook: dict[str, Any]) -> tuple[str, str | None]:
    config = hook.get("clientConfig") or {}
    return str(hook.get("name", "?")), config.get("caBundle")
