"""IAM calls made safe against their own lost answers (IAM has no idempotency tokens).

When IAM applies a call but the answer is lost (a 5xx after the write, a reset connection),
botocore sends it again: a create then meets EntityAlreadyExists, a delete or detach
NoSuchEntity. Both mean "done" only after a look at what is there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from core.errors import AwsTransientError
from tasks.aws.errors import error_code, or_none
from tasks.logs import run_logger

T = TypeVar("T")


def create_or_find(create: Callable[[], T]) -> T | None:
    """Run an IAM create call; None when IAM answers EntityAlreadyExists.

    The caller then reads the entity again and adopts it only if it carries this stack's
    ownership mark (our creates put the tags in the same call, so our own lost answer does).
    """
    return or_none("EntityAlreadyExists", create)


class _Owned(Protocol):
    @property
    def owned(self) -> bool: ...


OwnedT = TypeVar("OwnedT", bound=_Owned)


def found_after_conflict(read: Callable[[], OwnedT | None], *, what: str, operation: str) -> OwnedT:
    """What a create met as EntityAlreadyExists, read: an earlier attempt's (its answer lost) or
    someone else's, which the caller judges. Not readable yet (IAM is eventually consistent):
    a transient error, so that the task tries again."""
    found = read()
    if found is None:
        raise AwsTransientError(
            f"{what} already exists but cannot be read yet; retrying.",
            code="EntityAlreadyExists",
            operation=operation,
        )
    if found.owned:
        run_logger().info("%s exists already (an earlier attempt made it)", what)
    return found


def gone_already(call: Callable[..., object], **arguments: Any) -> None:
    """Run an IAM delete or detach; NoSuchEntity means it is done (gone, or our own lost answer)."""
    try:
        call(**arguments)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
