"""The controller's IAM as shared items (tasks/shared.py): the per-cluster role and policy and the
cluster's OIDC provider, each read, unmarked and deleted here; and who, besides the stack that
writes, may be marked as a user (only a previous version's stack, found now, not remembered)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import naming, sharing
from core.errors import AwsError, AwsTransientError
from tasks.aws.errors import error_code, error_message
from tasks.aws.iam_idempotent import gone_already
from tasks.logs import run_logger
from tasks.shared import Marks, SharedItem

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


def _tags(items: Iterable[Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in items}


def _tag_list(marks: dict[str, str]) -> list[Any]:
    return [{"Key": key, "Value": value} for key, value in marks.items()]


def unmarked(marks: Marks, users: Iterable[str], stack: str) -> list[str]:
    """The `users` other than `stack` without a user mark on the item yet."""
    return [u for u in users if u != stack and sharing.user_key(u) not in marks]


def legacy_holders(iam: IAMClient, users: Iterable[str]) -> tuple[str, ...]:
    """Of `users` (the controller's other users, as an observation saw them), those that are a
    previous version's stack now: its own per-stack role (`kfalb-<stack>-lbc`, with its stack's
    tags) still exists. Only those may get a mark from another stack (the documented
    migration); a user seen earlier that has since left must never be marked again."""
    found = []
    for user in dict.fromkeys(users):
        try:
            role = iam.get_role(RoleName=naming.role_name(user))["Role"]
        except ClientError as error:
            if error_code(error) == "NoSuchEntity":
                continue
            raise
        if naming.is_owned(_tags(role.get("Tags", [])), user):
            found.append(user)
    return tuple(found)


def _read_or_none(read: Callable[[], Marks]) -> Marks | None:
    try:
        return read()
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return None
        raise


def role_item(iam: IAMClient, name: str) -> SharedItem:
    """The per-cluster role as a shared item: deleted with its policies detached first."""

    def marks() -> Marks | None:
        return _read_or_none(lambda: _tags(iam.get_role(RoleName=name)["Role"].get("Tags", [])))

    def delete() -> bool:
        return delete_role_now(iam, name)

    return SharedItem(
        what=f"IAM role {name}",
        read_marks=marks,
        remove_marks=lambda keys: gone_already(iam.untag_role, RoleName=name, TagKeys=keys),
        delete=delete,
        add_marks=lambda marks: iam.tag_role(RoleName=name, Tags=_tag_list(marks)),
    )


def delete_role_now(iam: IAMClient, name: str) -> bool:
    """Detach the role's policies, delete its inline ones, then the role; False when it was
    gone. Each step tolerates NoSuchEntity on its own: a retried send whose first answer was
    lost finds its work done, and the role must still be deleted after it."""
    try:
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
        for arn in [item["PolicyArn"] for page in pages for item in page["AttachedPolicies"]]:
            gone_already(iam.detach_role_policy, RoleName=name, PolicyArn=arn)
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            gone_already(iam.delete_role_policy, RoleName=name, PolicyName=policy)
        gone_already(iam.delete_role, RoleName=name)
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return False
        raise
    run_logger().info("Deleted IAM role %s", name)
    return True


def policy_item(iam: IAMClient, arn: str) -> SharedItem:
    """The per-cluster policy as a shared item: deleted with all its versions, once detached."""

    def marks() -> Marks | None:
        return _read_or_none(lambda: _tags(iam.get_policy(PolicyArn=arn)["Policy"].get("Tags", [])))

    return SharedItem(
        what=f"IAM policy {arn}",
        read_marks=marks,
        remove_marks=lambda keys: gone_already(iam.untag_policy, PolicyArn=arn, TagKeys=keys),
        delete=lambda: delete_policy_now(iam, arn),
        add_marks=lambda marks: iam.tag_policy(PolicyArn=arn, Tags=_tag_list(marks)),
    )


def delete_policy_now(iam: IAMClient, arn: str) -> bool:
    """Delete the policy with its non-default versions; refuses while it is attached (IAM's
    DeleteConflict, which AWS enforces and moto does not). False when it was gone."""
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    users = [
        *(f"role {item['RoleName']}" for item in entities.get("PolicyRoles", [])),
        *(f"user {item['UserName']}" for item in entities.get("PolicyUsers", [])),
        *(f"group {item['GroupName']}" for item in entities.get("PolicyGroups", [])),
    ]
    if users:
        raise AwsError(
            f"IAM policy {arn} is still attached to {', '.join(users)}; detach it first.",
            code="DeleteConflict",
        )
    try:
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                # NoSuchEntity: a retried send whose first answer was lost; the version is gone.
                gone_already(
                    iam.delete_policy_version, PolicyArn=arn, VersionId=version["VersionId"]
                )
        gone_already(iam.delete_policy, PolicyArn=arn)
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":  # the whole policy went meanwhile
            return False
        if error_code(error) == "DeleteConflict":
            # IAM is eventually consistent: a detach a moment ago may not be seen yet.
            raise AwsTransientError(
                f"IAM policy {arn} cannot be deleted yet: {error_message(error)}. It must be "
                "detached from every role, user and group and have no other versions.",
                code="DeleteConflict",
                operation="DeletePolicy",
            ) from error
        raise
    run_logger().info("Deleted IAM policy %s", arn)
    return True


def provider_item(iam: IAMClient, arn: str) -> SharedItem:
    """The cluster's IAM OIDC provider as a shared item."""

    def marks() -> Marks | None:
        return _read_or_none(
            lambda: _tags(
                iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn).get("Tags", [])
            )
        )

    def delete() -> bool:
        # NoSuchEntity here: gone meanwhile, or our own send applied and its answer lost.
        gone_already(iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=arn)
        run_logger().info("Deleted OIDC provider %s", arn)
        return True

    return SharedItem(
        what=f"OIDC provider {arn}",
        read_marks=marks,
        remove_marks=lambda keys: gone_already(
            iam.untag_open_id_connect_provider, OpenIDConnectProviderArn=arn, TagKeys=keys
        ),
        delete=delete,
        add_marks=lambda marks: iam.tag_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, Tags=_tag_list(marks)
        ),
    )
