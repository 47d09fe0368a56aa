"""The controller's IAM as shared items (tasks/shared.py): the per-cluster role and policy and the
cluster's OIDC provider, each read, unmarked and deleted here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from core import sharing
from core.errors import AwsError, AwsTransientError
from core.resources import PolicyState, RoleState
from tasks.aws.errors import error_code, error_message, or_none
from tasks.aws.iam_idempotent import gone_already
from tasks.logs import run_logger
from tasks.shared import Marks, SharedItem

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


def _tags(items: Iterable[Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in items}


def _tag_list(marks: dict[str, str]) -> list[Any]:
    return [{"Key": key, "Value": value} for key, value in marks.items()]


_LISTS = ("Action", "NotAction", "Resource", "NotResource")


def _as_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return sorted({str(item) for item in items})


def normalise_document(document: Any) -> dict[str, Any]:
    """A policy in a canonical form, so equal policies compare equal however they are written."""
    if isinstance(document, str):
        document = json.loads(unquote(document) if document.startswith("%7B") else document)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    canonical = []
    for statement in statements:
        item: dict[str, Any] = {}
        for key, value in statement.items():
            if key in _LISTS:
                item[key] = _as_list(value)
            elif key == "Condition":
                item[key] = {
                    operator: {name: _as_list(values) for name, values in checks.items()}
                    for operator, checks in value.items()
                }
            elif key == "Principal" and isinstance(value, dict):
                item[key] = {kind: _as_list(ids) for kind, ids in value.items()}
            else:
                item[key] = value
        canonical.append(item)
    canonical.sort(key=lambda item: json.dumps(item, sort_keys=True))
    return {"Version": document.get("Version", "2008-10-17"), "Statement": canonical}


def same_document(left: Any, right: Any) -> bool:
    return normalise_document(left) == normalise_document(right)


def read_policy(
    iam: IAMClient,
    arn: str,
    *,
    document: dict[str, Any],
    count_versions: bool = True,
) -> PolicyState | None:
    """The policy as a state (its default version compared with `document`), or None.
    GetPolicy carries the tags; the versions are counted only when asked (to rotate them)."""
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        tags = _tags(policy.get("Tags", []))
        default = policy["DefaultVersionId"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"] if count_versions else []
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return None
        raise
    return PolicyState(
        arn=arn,
        name=policy["PolicyName"],
        default_version=default,
        document_matches=same_document(version.get("Document", {}), document),
        version_count=len(versions),  # 0: not counted
        attachment_count=policy.get("AttachmentCount", 0),
        owned=sharing.made_by_tool(tags),  # per cluster: any kubeflow-alb stack's
        tags=tags,
    )


def read_role(iam: IAMClient, name: str, *, trust: dict[str, Any]) -> RoleState | None:
    """The role as a state (its trust policy compared with `trust`), or None."""
    try:
        role = iam.get_role(RoleName=name)["Role"]
        tags = _tags(role.get("Tags", []))  # GetRole carries the tags
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
        attached = [item["PolicyArn"] for page in pages for item in page["AttachedPolicies"]]
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return None
        raise
    return RoleState(
        arn=role["Arn"],
        name=name,
        trust_matches=same_document(role.get("AssumeRolePolicyDocument", {}), trust),
        attached_policy_arns=tuple(attached),
        owned=sharing.made_by_tool(tags),  # per cluster: any kubeflow-alb stack's
        tags=tags,
    )


def unmarked(marks: Marks, users: Iterable[str], stack: str) -> list[str]:
    """The `users` other than `stack` without a user mark on the item yet."""
    return [u for u in users if u != stack and sharing.user_key(u) not in marks]


def _read_or_none(read: Callable[[], Marks]) -> Marks | None:
    return or_none("NoSuchEntity", read)


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
