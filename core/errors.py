"""One exception tree for the project, split by whether a retry can help."""

from __future__ import annotations


class KfalbError(Exception):
    """Base of every error this project raises on purpose.

    Errors carry a single human message (naming the resource and the next step), so they pickle
    cleanly when Prefect stores a failed task's result.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PermanentError(KfalbError):
    """Retrying will not help: the input, the permissions or the world must change first."""


class TransientError(KfalbError):
    """A retry may help: throttling, a conflict with a concurrent change, a server error."""


class SpecError(PermanentError):
    """The user's configuration is invalid; raised before anything is created."""


class PreflightError(PermanentError):
    """The world does not meet the prerequisites (cluster, zone, Kubernetes API)."""


class ResourceNotFound(PermanentError):
    """A resource that must exist does not."""


class OwnershipError(PermanentError):
    """A resource exists but does not carry this stack's ownership mark, so it is not ours to change."""


class WaitTimeout(PermanentError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


class DriftDetected(PermanentError):
    """The stack differs from its desired state; the message lists the drifted items."""

    def __init__(self, message: str, *, items: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.items = items

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_drift, (self.message, self.items))


class StalePlan(PermanentError):
    """The plan given to apply is no longer the plan of the stack: the world or the spec changed
    since it was made (or approved). Nothing was applied; plan again and review the new plan."""


class AwsCallError(KfalbError):
    """An AWS API call failed; keeps the error code and operation (also through pickling)."""

    def __init__(self, message: str, *, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_aws_error, (type(self), self.message, self.code, self.operation))


class AwsError(AwsCallError, PermanentError):
    """An AWS API call failed in a way a retry will not fix (access denied, invalid request...)."""


class AwsTransientError(AwsCallError, TransientError):
    """An AWS API call failed in a way a retry may fix (throttling, service errors, conflicts)."""


class KubernetesError(PermanentError):
    """A Kubernetes API call failed in a way a retry will not fix."""


class KubernetesTransientError(TransientError):
    """A Kubernetes API call failed in a way a retry may fix (conflict, 429, 5xx, connection)."""


def _rebuild_aws_error(
    cls: type[AwsCallError], message: str, code: str, operation: str
) -> AwsCallError:
    return cls(message, code=code, operation=operation)


def _rebuild_drift(message: str, items: tuple[str, ...]) -> DriftDetected:
    return DriftDetected(message, items=items)


def is_transient(error: BaseException) -> bool:
    """True when a retry may help with this error."""
    return isinstance(error, TransientError)
