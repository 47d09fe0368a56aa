"""The controller's webhook TLS as observed state: the Secret written create-only (a run that
loses the race uses the winner's), both webhook configurations' caBundle compared with it, and
a drifted caBundle put back by the next install."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from core.errors import OwnershipError
from core.webhook_ca import WEBHOOK_CA_MATCHES
from sandbox.kube.server import KubeApiServer
from tasks.k8s import webhook_secret, webhook_tls
from tasks.k8s.clients import KubeTarget, connect
from tasks.k8s.controller import ensure_controller, observe_controller
from tests.tasks.k8s.conftest import STACK

INSTALL: dict[str, Any] = {
    "stack": STACK,
    "cluster_name": "kubeflow",
    "region": "us-west-2",
    "vpc_id": "vpc-0abc",
    "role_arn": "arn:aws:iam::123456789012:role/kfalb-lbc",
}
SECRET = ("v1", "Secret", "aws-load-balancer-webhook-tls", "kube-system")


def _stored_ca(server: KubeApiServer) -> bytes:
    return base64.b64decode(server.store.get(*SECRET)["data"]["ca.crt"])


def test_a_run_that_loses_the_create_race_uses_the_winners_material(
    target: KubeTarget, kube_server: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.manifests import webhook_secret as secret_manifest

    winner = webhook_tls.generate()
    real_generate = webhook_tls.generate

    def another_run_first() -> webhook_tls.WebhookTls:
        # Another stack's setup creates the Secret between this run's look and its create.
        kube_server.store.create(secret_manifest("other-stack", ca_pem=winner.ca_pem,
                                                 cert_pem=winner.cert_pem, key_pem=winner.key_pem))  # fmt: skip
        monkeypatch.setattr(webhook_tls, "generate", real_generate)
        return real_generate()

    monkeypatch.setattr(webhook_tls, "generate", another_run_first)
    with connect(target) as kube:
        tls, action = webhook_secret.stored_webhook_tls(kube, STACK)
    assert tls.ca_pem == winner.ca_pem  # read back, never overwritten
    assert action == "unchanged"
    assert _stored_ca(kube_server) == winner.ca_pem


def test_a_secret_of_no_kubeflow_alb_stack_is_refused(
    target: KubeTarget, seed: Any, kube_server: KubeApiServer
) -> None:
    seed({"apiVersion": "v1", "kind": "Secret",
          "metadata": {"name": SECRET[2], "namespace": SECRET[3]}, "data": {}})  # fmt: skip
    with connect(target) as kube, pytest.raises(OwnershipError, match="not ours to change"):
        webhook_secret.stored_webhook_tls(kube, STACK)


def test_a_caBundle_of_another_ca_is_named_by_the_observation_and_put_back_by_setup(
    target: KubeTarget, kube_server: KubeApiServer
) -> None:
    ensure_controller.fn(target, mode="install", **INSTALL)
    assert observe_controller.fn(target, STACK).webhook_ca == WEBHOOK_CA_MATCHES
    store = kube_server.store
    hooks = store.get(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "aws-load-balancer-webhook",
    )
    other = base64.b64encode(webhook_tls.generate().ca_pem).decode()
    hooks["webhooks"][0]["clientConfig"]["caBundle"] = other
    store.update(hooks)
    name = hooks["webhooks"][0]["name"]
    assert observe_controller.fn(target, STACK).webhook_ca == (
        f"another CA in ValidatingWebhookConfiguration aws-load-balancer-webhook ({name})"
    )
    ca = _stored_ca(kube_server)
    again = ensure_controller.fn(target, mode="install", **INSTALL)
    assert again.applied is not None
    assert again.applied.of("changed") == (
        "ValidatingWebhookConfiguration aws-load-balancer-webhook",
    )
    assert observe_controller.fn(target, STACK).webhook_ca == WEBHOOK_CA_MATCHES
    assert _stored_ca(kube_server) == ca  # the Secret is the source: never rewritten
