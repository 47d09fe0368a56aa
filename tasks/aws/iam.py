"""IAM for the controller: the cluster's OIDC provider and the IRSA role (policy: iam_policy)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import identity, naming, sharing
from core.desired import role_name
from core.errors import AwsError, AwsTransientError, OwnershipError, PreflightError
from core.resources import ClusterState, OidcProviderState, RoleState
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, error_code
from tasks.aws.iam_idempotent import create_or_find, gone_already
from tasks.aws.iam_policy import (
    delete_policy,
    ensure_policy,
    load_controller_policy,
    observe_policy,
    same_document,
)
from tasks.logs import run_logger

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import TagTypeDef

__all__ = [
    "delete_oidc_provider",
    "delete_policy",
    "delete_role",
    "ensure_oidc_provider",
    "ensure_policy",
    "ensure_role",
    "load_controller_policy",
    "observe_oidc_provider",
    "observe_policy",
    "observe_role",
    "trust_policy",
]

AUDIENCE = identity.AUDIENCE
#: IAM ignores the thumbprint for EKS issuers (it trusts their CA itself) but the API requires
#: one. This is the SHA-1 of the root CA behind EKS OIDC endpoints, as widely published.
EKS_OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
SERVICE_ACCOUNT = identity.SERVICE_ACCOUNT


def _tags(items: list[Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in items}


def _creation_tags(spec: StackSpec, users: tuple[str, ...] = ()) -> list[TagTypeDef]:
    """A shared item's tags when a stack makes it: the stack's marks and the user marks."""
    tags = sharing.creation_marks(spec.tags, (spec.name, *users))
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _hold_tags(found: dict[str, str], stack: str, users: tuple[str, ...] = ()) -> list[TagTypeDef]:
    """The user marks a shared item needs so that the stack (and `users`, who use it through
    the controller) hold it; none when they do."""
    marks = sharing.marks_to_hold(found, stack)
    marks |= {sharing.user_key(u): u for u in users if found.get(sharing.user_key(u)) != u}
    return [{"Key": k, "Value": v} for k, v in marks.items()]


def release_tags(found: dict[str, str], stack: str) -> list[str]:
    """The tag keys a leaving stack removes from a shared item other stacks still use."""
    return [key for key in (sharing.user_key(stack),) if key in found]


def _issuer(cluster: ClusterState) -> str:
    if not cluster.oidc_host_path:
        raise PreflightError(f"EKS cluster {cluster.name} has no OIDC issuer.")
    return cluster.oidc_host_path


def read_oidc_provider(iam: IAMClient, host_path: str, stack: str) -> OidcProviderState | None:
    """The IAM OIDC provider whose URL is the issuer, or None."""
    for item in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        arn = item["Arn"]
        if not arn.endswith(f":oidc-provider/{host_path}"):
            continue
        try:
            found = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        except ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return None
            raise
        tags = _tags(found.get("Tags", []))
        return OidcProviderState(
            arn=arn,
            url=found.get("Url", host_path),
            client_ids=tuple(found.get("ClientIDList", [])),
            thumbprints=tuple(found.get("ThumbprintList", [])),
            owned=sharing.made_by_tool(tags),  # shared: any kubeflow-alb stack's to use
            tags=tags,
        )
    return None


@aws_task
def observe_oidc_provider(
    ctx: AwsContext, spec: StackSpec, cluster: ClusterState
) -> OidcProviderState | None:
    """Find the IAM OIDC identity provider for the cluster's issuer."""
    return read_oidc_provider(client(ctx, "iam"), _issuer(cluster), spec.name)


@aws_task
def ensure_oidc_provider(
    ctx: AwsContext, spec: StackSpec, cluster: ClusterState
) -> OidcProviderState:
    """Make sure IAM trusts the cluster's OIDC issuer (create the provider if it is missing)."""
    iam, host_path = client(ctx, "iam"), _issuer(cluster)
    found = read_oidc_provider(iam, host_path, spec.name)
    if found is None:
        arn = create_or_find(
            lambda: iam.create_open_id_connect_provider(
                Url=f"https://{host_path}",
                ClientIDList=[AUDIENCE],
                ThumbprintList=[EKS_OIDC_THUMBPRINT],
                Tags=_creation_tags(spec),
            )["OpenIDConnectProviderArn"]
        )
        if arn is not None:
            run_logger().info("Created OIDC provider %s", arn)
            return _read_provider_back(iam, host_path, spec)
        # Applied before (its answer lost) or made meanwhile: look again; a provider that is
        # not ours is used as any pre-existing one is (it is shared, never changed or deleted).
        found = read_oidc_provider(iam, host_path, spec.name)
        if found is None:
            raise AwsTransientError(
                f"The OIDC provider for {host_path} already exists but cannot be read yet.",
                code="EntityAlreadyExists",
                operation="CreateOpenIDConnectProvider",
            )
    if not found.owned:
        if AUDIENCE not in found.client_ids:
            raise OwnershipError(
                f"OIDC provider {found.arn} is not ours and lacks the audience {AUDIENCE}; "
                "add it (aws iam add-client-id-to-open-id-connect-provider) and re-run."
            )
        run_logger().info("Using pre-existing OIDC provider %s", found.arn)
        return found
    missing = _hold_tags(found.tags, spec.name)
    if missing:
        iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=found.arn, Tags=missing)
    if AUDIENCE not in found.client_ids:  # idempotent in IAM: a repeated add is no error
        iam.add_client_id_to_open_id_connect_provider(
            OpenIDConnectProviderArn=found.arn, ClientID=AUDIENCE
        )
    if not missing and AUDIENCE in found.client_ids:
        return found
    return _read_provider_back(iam, host_path, spec)


def _read_provider_back(iam: IAMClient, host_path: str, spec: StackSpec) -> OidcProviderState:
    state = read_oidc_provider(iam, host_path, spec.name)
    if state is None:
        raise AwsError(f"The OIDC provider for {host_path} vanished right after it was written.")
    return state


@aws_task
def delete_oidc_provider(ctx: AwsContext, spec: StackSpec, cluster: ClusterState) -> bool:
    """Remove the stack's use of the cluster's OIDC provider: delete it with its last user,
    else remove only the stack's user mark. False when nothing was deleted."""
    iam = client(ctx, "iam")
    found = read_oidc_provider(iam, _issuer(cluster), spec.name)
    if found is None:
        return False
    if not found.owned:
        raise OwnershipError(f"OIDC provider {found.arn} was not made by a kubeflow-alb stack.")
    if not sharing.last_user(found.tags, spec.name):
        release_provider(iam, found, spec.name)
        return False
    # NoSuchEntity here: gone meanwhile, or our own send applied and its answer lost.
    gone_already(iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=found.arn)
    run_logger().info("Deleted OIDC provider %s", found.arn)
    return True


def release_provider(iam: IAMClient, found: OidcProviderState, stack: str) -> None:
    """Drop the stack's user mark from an OIDC provider other stacks still use."""
    keys = release_tags(found.tags, stack)
    if keys:
        gone_already(
            iam.untag_open_id_connect_provider, OpenIDConnectProviderArn=found.arn, TagKeys=keys
        )
    run_logger().info(
        "OIDC provider %s stays for %s", found.arn, ", ".join(sharing.item_users(found.tags))
    )


def trust_policy(provider_arn: str, host_path: str) -> dict[str, Any]:
    """Only the controller's service account, via the cluster's OIDC provider, may assume."""
    return identity.irsa_trust(provider_arn, host_path)


def _trust(spec: StackSpec, provider: OidcProviderState | None) -> dict[str, Any]:
    """The trust policy of the stack's identity (IRSA: through this provider)."""
    if provider is None:
        if identity.needs_oidc_provider(spec):
            raise PreflightError(f"Stack {spec.name}: IRSA needs the cluster's IAM OIDC provider.")
        return identity.trust_policy(spec)
    host_path = provider.url.removeprefix("https://").rstrip("/")
    return identity.trust_policy(spec, provider_arn=provider.arn, host_path=host_path)


def read_role(
    iam: IAMClient, name: str, *, stack: str, trust: dict[str, Any], shared: bool = True
) -> RoleState | None:
    """The role as a state. `shared`: the per-cluster role (ours when a kubeflow-alb stack made
    it); else the previous version's per-stack role (ours with the stack's tags)."""
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
        owned=sharing.made_by_tool(tags) if shared else naming.is_owned(tags, stack),
        tags=tags,
    )


@aws_task
def observe_role(
    ctx: AwsContext, spec: StackSpec, provider: OidcProviderState | None
) -> RoleState | None:
    """Read the controller's role: trust policy, attached policies, tags."""
    iam = client(ctx, "iam")
    trust = _trust(spec, provider)
    return read_role(iam, role_name(spec), stack=spec.name, trust=trust)


@aws_task
def ensure_role(
    ctx: AwsContext,
    spec: StackSpec,
    provider: OidcProviderState | None,
    *,
    policy_arn: str,
    users: tuple[str, ...] = (),
) -> RoleState:
    """Make sure the controller's role exists, trusts only what its identity needs (IRSA: its
    service account through the OIDC provider; Pod Identity: the EKS Pod Identity service),
    and has the controller policy attached; held by the stack and by `users` (the
    controller's other users, who reach AWS through this role)."""
    iam, log, name, trust = (
        client(ctx, "iam"),
        run_logger(),
        role_name(spec),
        _trust(spec, provider),
    )
    state = read_role(iam, name, stack=spec.name, trust=trust)
    if state is None:
        state = _create_role(iam, name, trust=trust, spec=spec, users=users)  # None: created
    if state is not None:
        if not state.owned:
            raise OwnershipError(
                f"IAM role {state.arn} exists and was not made by a kubeflow-alb stack "
                f"({naming.MANAGED_BY_TAG}={naming.TOOL}); it is not changed."
            )
        if not state.trust_matches:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            log.info("Updated the trust policy of IAM role %s", name)
        missing = _hold_tags(state.tags, spec.name, users)
        if missing:
            iam.tag_role(RoleName=name, Tags=missing)
        if state.trust_matches and not missing and policy_arn in state.attached_policy_arns:
            return state
    if state is None or policy_arn not in state.attached_policy_arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        log.info("Attached %s to IAM role %s", policy_arn, name)
    found = read_role(iam, name, stack=spec.name, trust=trust)
    if found is None:
        raise AwsError(f"IAM role {name} vanished right after it was written.")
    return found


def _create_role(
    iam: IAMClient, name: str, *, trust: dict[str, Any], spec: StackSpec, users: tuple[str, ...]
) -> RoleState | None:
    """Create the role; None when created, else the role found instead.

    EntityAlreadyExists means an earlier send was applied and its answer lost (botocore sent it
    again), or a concurrent run or someone else made it: the role read again is returned, and
    the caller adopts it only if it carries our mark.
    """
    made = create_or_find(
        lambda: iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"AWS Load Balancer Controller ({spec.stack.controller_identity}) of "
            f"cluster {spec.cluster.name}, shared by its kubeflow-alb stacks",
            Tags=_creation_tags(spec, users),
        )
    )
    if made is not None:
        run_logger().info("Created IAM role %s", name)
        return None
    found = read_role(iam, name, stack=spec.name, trust=trust)
    if found is None:  # IAM is eventually consistent: not readable yet
        raise AwsTransientError(
            f"IAM role {name} already exists but cannot be read yet.",
            code="EntityAlreadyExists",
            operation="CreateRole",
        )
    if found.owned:
        run_logger().info("IAM role %s exists already (an earlier attempt made it)", name)
    return found


@aws_task
def delete_role(ctx: AwsContext, spec: StackSpec, *, legacy: bool = False) -> bool:
    """Remove the stack's use of the controller's IRSA role: delete it (detaching its policies
    first) with its last user, else remove only the stack's user mark. `legacy`: the previous
    version's per-stack role, the stack's own. False when nothing was deleted."""
    iam = client(ctx, "iam")
    name = naming.role_name(spec.name) if legacy else role_name(spec)
    state = read_role(iam, name, stack=spec.name, trust={}, shared=not legacy)
    if state is None:
        return False
    if not state.owned:
        raise OwnershipError(f"IAM role {state.arn} is not this stack's to delete; it is left.")
    if not legacy and not sharing.last_user(state.tags, spec.name):
        keys = release_tags(state.tags, spec.name)
        if keys:
            gone_already(iam.untag_role, RoleName=name, TagKeys=keys)
        run_logger().info(
            "IAM role %s stays for %s", name, ", ".join(sharing.item_users(state.tags))
        )
        return False
    try:
        # Each step tolerates NoSuchEntity on its own: a retried send whose first answer was
        # lost finds its work done, and the role must still be deleted after it.
        for arn in state.attached_policy_arns:
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
