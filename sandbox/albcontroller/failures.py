"""The controller's flags as its Deployment passes them, and a reconcile step's failure as the
Warning event the real controller records for that step."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes.client.exceptions import ApiException

from sandbox.albcontroller.access import AwsCallError
from sandbox.albcontroller.model import BuildError


def flags(deployment: dict[str, Any]) -> dict[str, str]:
    """The controller container's `--flag=value` arguments, by flag name."""
    found: dict[str, str] = {}
    for container in deployment["spec"]["template"]["spec"].get("containers") or []:
        for arg in container.get("args") or []:
            key, _, value = str(arg).lstrip("-").partition("=")
            found[key] = value
    return found


def gate(given: dict[str, str], name: str, default: bool) -> bool:
    """Whether feature gate `name` is on (`--feature-gates=Name=true,...`)."""
    for item in given.get("feature-gates", "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == name:
            return value.strip().lower() == "true"
    return default


class Failure(Exception):
    """A reconcile step failed; reason and message of the Warning event."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@contextmanager
def failing(reason: str, prefix: str) -> Iterator[None]:
    """Turn a step's error into the Warning event the real controller records for that step."""
    try:
        yield
    except (BuildError, AwsCallError, ApiException) as error:
        raise Failure(reason, f"{prefix} {error}") from None
