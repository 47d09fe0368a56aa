"""Writes that go through the ALB controller's admission webhooks: ride out a webhook not answering.

A real API server calls ``vingress.elbv2.k8s.aws`` on every Ingress write. Between the
controller Deployment turning ready and its webhook server answering (and for as long as the
control plane cannot reach the controller pods on 9443, or the caBundle does not match the
serving certificate) every such write fails with ``failed calling webhook``. That is waited
out, bounded by ``KFALB_WEBHOOK_TIMEOUT_SECONDS``, with a message saying what to check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from core import naming
from core.errors import WaitTimeout
from core.manifests import WEBHOOK_SECRET
from core.settings import get_settings
from core.waiting import wait_until
from tasks import interrupt
from tasks.k8s.errors import WebhookUnavailable
from tasks.logs import run_logger

T = TypeVar("T")

#: What to look at when a webhook does not answer, most likely cause first.
CHECKS = (
    "that the controller pods are Running and Ready and what their logs say "
    f"(kubectl -n {naming.CONTROLLER_NAMESPACE} get pods -l "
    "app.kubernetes.io/name=aws-load-balancer-controller; kubectl -n "
    f"{naming.CONTROLLER_NAMESPACE} logs deploy/aws-load-balancer-controller); that the caBundle "
    "of the webhook configurations is the CA of Secret "
    f"{naming.CONTROLLER_NAMESPACE}/{WEBHOOK_SECRET} (a re-run of setup renews both); on EKS, "
    "that the cluster security group lets the control plane reach the nodes on TCP 9443"
)


def through_webhooks(write: Callable[[], T], *, what: str) -> T:
    """Run ``write``; while an admission webhook cannot be called, retry it, bounded.

    Args:
        write: an idempotent write (server-side apply), tried again as it is.
        what: the object written, for the messages ("Ingress istio-system/istio-ingress").

    Raises:
        WaitTimeout: the webhook still did not answer after ``webhook_timeout_seconds``; the
            message names the webhook, the last error and what to check.
    """
    settings = get_settings()
    tries: list[WebhookUnavailable] = []

    def attempt() -> tuple[T | None, WebhookUnavailable | None]:
        try:
            return write(), None
        except WebhookUnavailable as error:
            if not tries:
                run_logger().warning(
                    "Writing %s: admission webhook %r does not answer yet (%s); retrying for up "
                    "to %gs",
                    what,
                    error.webhook,
                    error.message,
                    settings.webhook_timeout_seconds,
                )
            tries.append(error)
            return None, error

    def describe(last: tuple[T | None, WebhookUnavailable | None] | None) -> str:
        error = last[1] if last else None
        return (
            f"{error.message if error else 'no answer'} ({len(tries)} tries of writing {what}). "
            f"Check {CHECKS}."
        )

    try:
        result, _ = wait_until(
            attempt,
            lambda outcome: outcome[1] is None,
            what=f"the admission webhooks to admit {what}",
            timeout=settings.webhook_timeout_seconds,
            interval=settings.poll_interval_seconds,
            max_interval=settings.poll_max_interval_seconds,
            describe=describe,
            sleep=interrupt.sleep,
        )
    except WaitTimeout as timeout:
        webhook = tries[-1].webhook if tries else "?"
        raise WaitTimeout(
            f"The API server could not call admission webhook {webhook!r} of the AWS Load "
            f"Balancer Controller, so {what} was not written. {timeout.message}"
        ) from None
    if tries:
        run_logger().info("Writing %s: webhook answered after %d failed tries", what, len(tries))
    return cast(T, result)  # accepted only once the write returned
