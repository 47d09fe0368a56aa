"""Translate Kubernetes client errors into the project's errors, split by whether a retry helps."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from core.errors import KfalbError, KubernetesError, KubernetesTransientError, PreflightError

_WEBHOOK_CALL = re.compile(r'failed calling webhook "([^"]+)": (.*)', re.DOTALL)

#: 409 is a conflict with a concurrent writer: re-reading and re-applying fixes it.
_TRANSIENT_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


class WebhookUnavailable(KubernetesTransientError):
    """The API server could not call an admission webhook (not serving yet, unreachable, TLS).

    Transient: it is the gap between a controller Deployment being ready and its webhook server
    answering; a bounded wait (see tasks.k8s.webhooks) rides it out.
    """

    @property
    def webhook(self) -> str:
        """The webhook's name, as the API server gave it."""
        found = _WEBHOOK_CALL.search(self.message)
        return found.group(1) if found else "?"


def failed_webhook_call(message: str) -> tuple[str, str] | None:
    """(webhook, why) when an API message says a webhook could not be called."""
    found = _WEBHOOK_CALL.search(message)
    return (found.group(1), found.group(2)) if found else None


def is_not_found(error: BaseException) -> bool:
    """True for the API's 404 (only that code means "gone")."""
    return isinstance(error, ApiException) and error.status == 404


def server_message(error: ApiException) -> str:
    """The message of the API's Status body, else the HTTP reason."""
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {error.status} {error.reason or ''}".strip()


def translate(error: BaseException, action: str) -> KfalbError:
    """The project error for a failure of `action` (a phrase naming the object)."""
    if isinstance(error, KfalbError):
        return error
    if isinstance(error, ApiException):
        status = error.status or 0
        message = f"{action} failed: {server_message(error)} (HTTP {status})"
        if status == 500 and failed_webhook_call(server_message(error)):
            return WebhookUnavailable(message)
        if status in _TRANSIENT_STATUSES:
            return KubernetesTransientError(message)
        if status in (401, 403):
            return KubernetesError(
                f"{message}. Check the Kubernetes credentials and that they are mapped to a user "
                "with cluster-admin rights (EKS access entry or aws-auth)"
            )
        return KubernetesError(message)
    if isinstance(error, HTTPError | ConnectionError | TimeoutError):
        return KubernetesTransientError(
            f"{action} failed: the Kubernetes API did not answer ({error})"
        )
    if isinstance(error, ConfigException):
        return PreflightError(f"{action} failed: {error}")
    return KubernetesError(f"{action} failed: {type(error).__name__}: {error}")


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Raise client errors inside the block as KubernetesError / KubernetesTransientError."""
    try:
        yield
    except (ApiException, HTTPError, ConnectionError, TimeoutError, ConfigException) as error:
        raise translate(error, action) from error
