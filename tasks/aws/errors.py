"""Translate botocore errors into the project's exception tree at the task boundary."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    WaiterError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from prefect import Task

from core.errors import (
    AwsError,
    AwsTransientError,
    KfalbError,
    ResourceNotFound,
    WaitTimeout,
)
from tasks.retry import retrying_task

P = ParamSpec("P")
R = TypeVar("R")

#: Error codes a retry can fix: throttling, conflicts with a concurrent change, server trouble.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "ConcurrentModification",
        "ConcurrentModificationException",
        "InternalError",
        "InternalFailure",
        "InternalServiceError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailure",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "IDPCommunicationError",
    }
)

#: Missing permissions: retrying never helps, the caller's IAM policy must change.
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthFailure",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
    }
)

NOT_FOUND_CODES = frozenset(
    {
        "NoSuchHostedZone",
        "NoSuchChange",
        "NoSuchEntity",
        "ResourceNotFoundException",
        "LoadBalancerNotFound",
        "TargetGroupNotFound",
        "ListenerNotFound",
        "InvalidSubnetID.NotFound",
        "InvalidGroup.NotFound",
        "InvalidVpcID.NotFound",
    }
)


def error_code(error: ClientError) -> str:
    """The AWS error code of a ClientError ("" when the response has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def or_none(code: str, call: Callable[[], R]) -> R | None:
    """`call()`, or None when AWS answers `code`: the one error code that means the thing is not
    there (any other error is raised)."""
    try:
        return call()
    except ClientError as error:
        if error_code(error) == code:
            return None
        raise


def read_back(read: Callable[[], R | None], what: str) -> R:
    """What a write just made or changed, read again; gone by then is an error naming it."""
    found = read()
    if found is None:
        raise AwsError(f"{what} vanished right after it was written.")
    return found


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def translate(error: Exception, *, action: str) -> KfalbError:
    """The project exception for a botocore error raised while doing `action`."""
    if isinstance(error, KfalbError):
        return error
    if isinstance(error, WaiterError):
        return _translate_waiter(error, action=action)
    if isinstance(error, ClientError):
        return _translate_client_error(error, action=action)
    if isinstance(error, NoCredentialsError):
        return AwsError(
            f"Cannot {action}: no AWS credentials found. Configure the default AWS chain "
            "(environment, profile, instance role) or name an AwsCredentials block.",
            code="NoCredentials",
        )
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return AwsTransientError(f"Cannot {action}: could not reach AWS ({error}).", code="Network")
    return AwsError(f"Cannot {action}: {error}", code=type(error).__name__)


def _translate_client_error(error: ClientError, *, action: str) -> KfalbError:
    code, operation = error_code(error), error.operation_name
    detail = f"{operation} returned {code or _status(error)}: {error_message(error)}"
    if code in ACCESS_CODES:
        return AwsError(
            f"Cannot {action}: {detail}. The AWS identity lacks a permission (or its credentials "
            "expired); grant it and re-run.",
            code=code,
            operation=operation,
        )
    if code in TRANSIENT_CODES or _status(error) >= 500:
        return AwsTransientError(
            f"Cannot {action} right now: {detail}. A retry may succeed.",
            code=code,
            operation=operation,
        )
    if code in NOT_FOUND_CODES:
        return ResourceNotFound(f"Cannot {action}: {detail}.")
    return AwsError(f"Cannot {action}: {detail}.", code=code, operation=operation)


def is_waiter_timeout(error: WaiterError) -> bool:
    """True when a botocore waiter ran out of attempts (rather than hitting an error)."""
    details: dict[str, Any] = getattr(error, "kwargs", {})
    return "Max attempts exceeded" in str(details.get("reason", ""))


def _translate_waiter(error: WaiterError, *, action: str) -> KfalbError:
    details: dict[str, Any] = getattr(error, "kwargs", {})
    name, reason = details.get("name", "waiter"), str(details.get("reason", ""))
    last: Any = error.last_response or {}
    code = str(last.get("Error", {}).get("Code", ""))
    if is_waiter_timeout(error):
        return WaitTimeout(f"Timed out: {action} ({name}) gave up; last seen: {_brief(last)}")
    if code:
        return _translate_client_error(ClientError(last, name), action=action)
    return AwsError(f"Cannot {action}: waiter {name} failed: {reason}", code="WaiterError")


def _brief(response: dict[str, Any]) -> str:
    shown = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    return str(shown)[:500]


def aws_boundary(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a task function so botocore errors leave it as project errors.

    The action named in messages is the function name in words ("ensure hosted zone").
    """
    action = func.__name__.replace("_", " ")

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ClientError, BotoCoreError) as error:
            raise translate(error, action=action) from error

    return wrapper


def aws_task(func: Callable[P, R]) -> Task[P, R]:
    """A Prefect task that translates AWS errors and retries only the transient ones."""
    return retrying_task(aws_boundary(func))
