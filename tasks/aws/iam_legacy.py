"""The migration from 0.1.0's per-stack controller role and policy: all of it, in one place.

0.1.0 made one IRSA role (`kfalb-<stack>-lbc`) and one policy
(`kfalb-<stack>-AWSLoadBalancerController`) per stack, with its stack's tags and no user marks.
They are per cluster and shared now (CHANGELOG, Unreleased). A stack set up by 0.1.0 is migrated
by the next setup on its cluster: it becomes a user of the shared role and policy (marked by
whichever stack writes them, `users_to_mark`), and its cleanup deletes its own old role and policy
(found by cleanup's sweep).

When it can go: once no stack set up by 0.1.0 is left, i.e. when a release states that
0.1.0 stacks must first be set up again by the release before it. Removing it then takes this
module, the two legacy reads of `tasks/kinds/sweep.py`, the two legacy deletes of
`tasks/kinds/iam.py`, `Sweep.legacy_policy` / `legacy_role` (and their lines in
`core/cleanup_report.py`), `naming.policy_name` / `role_name`, and the fallback for a stack
without user marks in `sharing.item_users`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from core import naming
from core.errors import OwnershipError
from core.resources import PolicyState, RoleState
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task
from tasks.aws.iam_shared import (
    delete_policy_now,
    delete_role_now,
    policy_item,
    read_policy,
    read_role,
    role_item,
    unmarked,
)
from tasks.aws.sts import caller_identity
from tasks.cluster_lock import cluster_lease
from tasks.shared import Marks

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

_State = TypeVar("_State", PolicyState, RoleState)


def _own(state: _State | None, stack: str) -> _State | None:
    """A 0.1.0 item is the stack's when it carries the stack's tags (not any stack's, as now)."""
    if state is None:
        return None
    return state.model_copy(update={"owned": naming.is_owned(state.tags, stack)})


def _policy_arn(ctx: AwsContext, stack: str) -> str:
    identity = caller_identity(ctx)
    return f"arn:{identity.partition}:iam::{identity.account}:policy/{naming.policy_name(stack)}"


def _role_marks(iam: IAMClient, stack: str) -> Marks | None:
    return role_item(iam, naming.role_name(stack)).read_marks()


def users_to_mark(
    iam: IAMClient, marks: Marks, users: Iterable[str], stack: str
) -> tuple[str, ...]:
    """Of `users` (the controller's other users, as an observation saw them), those a shared item
    with `marks` needs a mark for besides `stack`'s: without a user mark yet and a 0.1.0 stack now
    (its own per-stack role, with its stack's tags, still exists). Only those may get a mark from
    another stack; a user seen earlier that has since left must never be marked again."""
    found = []
    for user in dict.fromkeys(unmarked(marks, users, stack)):
        tags = _role_marks(iam, user)
        if tags is not None and naming.is_owned(dict(tags), user):
            found.append(user)
    return tuple(found)


@aws_task
def find_legacy_policy(ctx: AwsContext, spec: StackSpec) -> PolicyState | None:
    """The stack's 0.1.0 per-stack IAM policy, or None."""
    return _own(
        read_policy(client(ctx, "iam"), _policy_arn(ctx, spec.name), document={}), spec.name
    )


@aws_task
def find_legacy_role(ctx: AwsContext, spec: StackSpec) -> RoleState | None:
    """The stack's 0.1.0 per-stack IRSA role, or None."""
    return _own(read_role(client(ctx, "iam"), naming.role_name(spec.name), trust={}), spec.name)


def delete_legacy_role_now(iam: IAMClient, stack: str) -> bool:
    """Delete the stack's 0.1.0 role, when it carries the stack's tags (under the cluster's lock,
    held by the caller); False when there is none."""
    tags = _role_marks(iam, stack)
    if tags is None or not naming.is_owned(dict(tags), stack):
        return False
    return delete_role_now(iam, naming.role_name(stack))


@aws_task
def delete_legacy_role(ctx: AwsContext, spec: StackSpec) -> bool:
    """Delete the stack's 0.1.0 IRSA role, under the cluster's lock; False when there is none."""
    with cluster_lease(spec.region, spec.cluster.name, holder=spec.name):
        return delete_legacy_role_now(client(ctx, "iam"), spec.name)


@aws_task
def delete_legacy_policy(ctx: AwsContext, spec: StackSpec) -> bool:
    """Delete the stack's 0.1.0 IAM policy with its versions, under the cluster's lock; False
    when there is none. Refuses while it is attached (delete the role first)."""
    iam, arn = client(ctx, "iam"), _policy_arn(ctx, spec.name)
    with cluster_lease(spec.region, spec.cluster.name, holder=spec.name):
        tags = policy_item(iam, arn).read_marks()
        if tags is None:
            return False
        if not naming.is_owned(dict(tags), spec.name):
            raise OwnershipError(f"IAM policy {arn} is not this stack's to delete; it is left.")
        return delete_policy_now(iam, arn)
