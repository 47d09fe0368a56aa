"""Ingress writes through the ALB controller's webhook: a webhook not answering yet is waited out,
bounded, with a message naming it and what to check; nothing is half-applied."""

from __future__ import annotations

import logging

import pytest

from core import naming
from core.errors import KubernetesTransientError, WaitTimeout
from sandbox.albcontroller.webhooks import AlbWebhookServer
from sandbox.kube.server import KubeApiServer
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import ensure_controller
from tasks.k8s.errors import WebhookUnavailable, translate
from tasks.k8s.ingress import ensure_ingress, observe_ingress
from tests.tasks.k8s.ingress_fixture import desired_ingress

STACK = "platform-example-com"
INSTALL = {
    "stack": STACK,
    "cluster_name": "kubeflow",
    "region": "us-west-2",
    "vpc_id": "vpc-0abc",
    "role_arn": "arn:aws:iam::111122223333:role/kfalb-platform-example-com-lbc",
}
REFUSED = "dial tcp 127.0.0.1:9443: connect: connection refused"


def _ingress() -> dict[str, object]:
    result: dict[str, object] = desired_ingress(
        stack=STACK,
        certificate_arns=("arn:aws:acm:us-west-2:111122223333:certificate/0123",),
        scheme="internet-facing",
        tags=naming.ownership_tags(STACK),
    )
    return result


def test_a_webhook_that_answers_late_is_waited_for_and_logged(
    target: KubeTarget,
    kube_server: KubeApiServer,
    alb_webhooks: AlbWebhookServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ensure_controller.fn(target, mode="install", **INSTALL)
    dials: list[int] = []

    def late() -> tuple[str, int] | None:  # the webhook server comes up on the third call
        dials.append(1)
        return None if len(dials) <= 2 else alb_webhooks.address()

    kube_server.store.network.serve(
        namespace="kube-system", workload="aws-load-balancer-controller", port=9443, address=late
    )
    with caplog.at_level(logging.INFO, logger="kfalb.tasks"):
        outcome = ensure_ingress.fn(target, _ingress(), stack=STACK)
    assert outcome.action == "created"
    assert ("/validate-networking-v1-ingress", "CREATE") in alb_webhooks.reviewed
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "admission webhook 'vingress.elbv2.k8s.aws' does not answer yet" in warning
    assert REFUSED in warning
    assert "webhook answered after 2 failed tries" in caplog.text


def test_a_webhook_that_never_answers_fails_after_its_bound_and_a_rerun_converges(
    target: KubeTarget,
    alb_webhooks: AlbWebhookServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KFALB_WEBHOOK_TIMEOUT_SECONDS", "0.3")
    ensure_controller.fn(target, mode="install", **INSTALL)
    alb_webhooks.set_answering(False)
    with pytest.raises(WaitTimeout) as failed:
        ensure_ingress.fn(target, _ingress(), stack=STACK)
    message = str(failed.value)
    assert "admission webhook 'vingress.elbv2.k8s.aws'" in message
    assert "Ingress istio-system/istio-ingress was not written" in message
    assert "Timed out after 0.3s" in message
    assert REFUSED in message
    for check in ("logs deploy/aws-load-balancer-controller", "caBundle", "TCP 9443"):
        assert check in message
    assert observe_ingress.fn(target) is None  # nothing half-applied

    alb_webhooks.set_answering(True)
    assert ensure_ingress.fn(target, _ingress(), stack=STACK).action == "created"
    assert ensure_ingress.fn(target, _ingress(), stack=STACK).action == "unchanged"


def test_webhook_call_failures_are_transient_and_name_the_webhook(
    kube_server: KubeApiServer,
) -> None:
    from kubernetes.client.exceptions import ApiException

    error = ApiException(status=500, reason="Internal Server Error")
    error.body = (
        '{"kind":"Status","message":"Internal error occurred: failed calling webhook '
        '\\"vingress.elbv2.k8s.aws\\": failed to call webhook: Post \\"https://x\\": '
        'no endpoints available for service \\"aws-load-balancer-webhook-service\\""}'
    )
    translated = translate(error, "Applying Ingress istio-system/istio-ingress")
    assert isinstance(translated, WebhookUnavailable)
    assert isinstance(translated, KubernetesTransientError)
    assert translated.webhook == "vingress.elbv2.k8s.aws"
    other = ApiException(status=500, reason="Internal Server Error")
    assert not isinstance(translate(other, "x"), WebhookUnavailable)
