"""IAM rules that real IAM enforces and moto 5.2.5 does not.

DeletePolicy refuses a policy that is still attached or still has non-default versions
(moto deletes it and leaves a dangling attachment that can never be removed),
DeleteOpenIDConnectProvider fails with NoSuchEntity for an unknown ARN, and a repeated
AttachRolePolicy is a no-op, as in IAM (moto counts the attachment twice, so after one detach
the policy still counts as attached and can never be deleted). A repeated SetDefaultPolicyVersion
is a no-op too (moto then marks no version as the default while it still refuses to delete
the default one). moto already
enforces the 5-version limit of CreatePolicyVersion (LimitExceeded) and refuses DeleteRole
while policies are attached (DeleteConflict).
"""

from __future__ import annotations

from typing import Any

from moto.iam.models import IAMBackend, ManagedPolicy

from sandbox.aws.errors import DeleteConflict, NoSuchEntity
from sandbox.aws.hooks import Realism, hook


def check_policy_detached(policy: ManagedPolicy) -> None:
    if policy.attachment_count > 0:
        raise DeleteConflict("Cannot delete a policy attached to entities.")


def check_policy_single_version(policy: ManagedPolicy) -> None:
    if len(policy.versions) > 1:
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, "
            "you must delete the policy's non-default versions."
        )


def check_oidc_provider_exists(backend: IAMBackend, arn: str) -> None:
    if arn not in backend.open_id_providers:
        raise NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")


def _around_delete_policy(
    realism: Realism, original: Any, backend: IAMBackend, policy_arn: str
) -> None:
    policy = backend.get_policy(policy_arn)
    check_policy_detached(policy)
    check_policy_single_version(policy)
    original(backend, policy_arn)


def _around_delete_oidc_provider(
    realism: Realism, original: Any, backend: IAMBackend, arn: str
) -> None:
    check_oidc_provider_exists(backend, arn)
    original(backend, arn)


def _around_attach_role_policy(
    realism: Realism, original: Any, backend: IAMBackend, policy_arn: str, role_name: str
) -> None:
    if policy_arn in backend.get_role(role_name).managed_policies:
        return  # already attached: IAM answers success and changes nothing
    original(backend, policy_arn, role_name)


def _around_set_default_policy_version(
    realism: Realism, original: Any, backend: IAMBackend, policy_arn: str, version_id: str
) -> bool:
    policy = backend.get_policy(policy_arn)
    if policy.default_version_id == version_id:
        return True  # already the default: IAM answers success and changes nothing
    result: bool = original(backend, policy_arn, version_id)
    return result


def install() -> None:
    hook(IAMBackend, "attach_role_policy", _around_attach_role_policy)
    hook(IAMBackend, "set_default_policy_version", _around_set_default_policy_version)
    hook(IAMBackend, "delete_policy", _around_delete_policy)
    hook(IAMBackend, "delete_open_id_connect_provider", _around_delete_oidc_provider)
