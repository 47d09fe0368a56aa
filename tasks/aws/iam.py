"""IAM for the controller: the cluster's OIDC provider and the IRSA role (policy: iam_policy)."""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

from core import identity, naming, sharing
from core.desired import role_name
from core.errors import OwnershipError, PreflightError
from core.resources import ClusterState, OidcProviderState, RoleState
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, or_none, read_back
from tasks.aws.iam_idempotent import create_or_find, found_after_conflict
from tasks.aws.iam_legacy import delete_legacy_role_now, users_to_mark
from tasks.aws.iam_policy import (
    delete_policy,
    ensure_policy,
    load_controller_policy,
    observe_policy,
)
from tasks.aws.iam_shared import (
    read_role,
    role_item,
)
from tasks.cluster_lock import cluster_lease
from tasks.logs import run_logger
from tasks.shared import release

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import TagTypeDef

__all__ = [
    "delete_policy",
    "delete_role",
    "ensure_oidc_provider",
    "ensure_policy",
    "ensure_role",
    "load_controller_policy",
    "observe_oidc_provider",
    "observe_policy",
    "observe_role",
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
    """The user marks a shared item needs so that the stack holds it, as read now (a previous
    version's holder of the item keeps its hold as a mark); `users`: previous-version stacks
    found now (`legacy_holders`), who use it through the controller. None when they hold it."""
    marks = sharing.marks_to_hold(found, stack)
    marks |= {sharing.user_key(u): u for u in users if found.get(sharing.user_key(u)) != u}
    return [{"Key": k, "Value": v} for k, v in marks.items()]


def _lease(spec: StackSpec) -> Any:
    """The cluster's lock, held by the stack while it writes the cluster's shared IAM."""
    return cluster_lease(spec.region, spec.cluster.name, holder=spec.name)


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
        read = partial(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)
        found = or_none("NoSuchEntity", read)
        if found is None:
            return None
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
    """Make sure IAM trusts the cluster's OIDC issuer (create the provider if it is missing);
    held by the stack (its user mark), under the cluster's lock."""
    with _lease(spec):
        return _ensure_provider(client(ctx, "iam"), _issuer(cluster), spec)


def _ensure_provider(iam: IAMClient, host_path: str, spec: StackSpec) -> OidcProviderState:
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
        found = found_after_conflict(
            lambda: read_oidc_provider(iam, host_path, spec.name),
            what=f"The OIDC provider for {host_path}",
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
    what = f"The OIDC provider for {host_path}"
    return read_back(lambda: read_oidc_provider(iam, host_path, spec.name), what)


def _trust(spec: StackSpec, provider: OidcProviderState | None) -> dict[str, Any]:
    """The trust policy of the stack's identity (IRSA: through this provider)."""
    if provider is None:
        if identity.needs_oidc_provider(spec):
            raise PreflightError(f"Stack {spec.name}: IRSA needs the cluster's IAM OIDC provider.")
        return identity.trust_policy(spec)
    host_path = provider.url.removeprefix("https://").rstrip("/")
    return identity.trust_policy(spec, provider_arn=provider.arn, host_path=host_path)


@aws_task
def observe_role(
    ctx: AwsContext, spec: StackSpec, provider: OidcProviderState | None
) -> RoleState | None:
    """Read the controller's role: trust policy, attached policies, tags."""
    iam = client(ctx, "iam")
    trust = _trust(spec, provider)
    return read_role(iam, role_name(spec), trust=trust)


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
    and has the controller policy attached; held by the stack (its user mark) and, of `users`
    (the controller's other users as observed), by those still of the previous version, who
    reach AWS through this role now. Under the cluster's lock."""
    iam = client(ctx, "iam")
    with _lease(spec):
        return _ensure_role(iam, spec, provider, policy_arn=policy_arn, users=users)


def _ensure_role(
    iam: IAMClient,
    spec: StackSpec,
    provider: OidcProviderState | None,
    *,
    policy_arn: str,
    users: tuple[str, ...],
) -> RoleState:
    log, name, trust = run_logger(), role_name(spec), _trust(spec, provider)
    state = read_role(iam, name, trust=trust)
    users = users_to_mark(iam, state.tags if state else {}, users, spec.name)
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
    return read_back(lambda: read_role(iam, name, trust=trust), f"IAM role {name}")


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
    return found_after_conflict(
        lambda: read_role(iam, name, trust=trust), what=f"IAM role {name}", operation="CreateRole"
    )


@aws_task
def delete_role(ctx: AwsContext, spec: StackSpec) -> bool:
    """Remove the stack's use of the controller's IRSA role: drop its user mark, and delete the
    role (detaching its policies first) when no mark remains. The stack's previous-version role
    goes first, in the same hold of the cluster's lock: once it is gone no other stack takes
    this one for a previous-version user to mark. False when nothing (or only the
    previous-version role) was deleted."""
    iam = client(ctx, "iam")
    with _lease(spec):
        delete_legacy_role_now(iam, spec.name)
        name = role_name(spec)
        state = read_role(iam, name, trust={})
        if state is None:
            return False
        if not state.owned:
            raise OwnershipError(f"IAM role {state.arn} is not this stack's to delete; it is left.")
        return release(role_item(iam, name), spec.name).deleted
