"""EKS Pod Identity for the controller: its service account's association, and the agent add-on."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import naming, sharing
from core.errors import AwsTransientError, OwnershipError, PreflightError
from core.identity import POD_IDENTITY_AGENT, agent_problem, uses_pod_identity
from core.resources import PodIdentityAssociationState
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, error_code, or_none, read_back
from tasks.aws.iam_legacy import users_to_mark
from tasks.cluster_lock import cluster_lease
from tasks.logs import run_logger
from tasks.shared import Marks, SharedItem, release

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient

_NOT_FOUND = "ResourceNotFoundException"


def read_association(
    eks: EKSClient, cluster_name: str, stack: str
) -> PodIdentityAssociationState | None:
    """The association of the controller's service account in the cluster, or None (also when
    the cluster is gone)."""
    try:
        listed = eks.list_pod_identity_associations(
            clusterName=cluster_name,
            namespace=naming.CONTROLLER_NAMESPACE,
            serviceAccount=naming.CONTROLLER_SERVICE_ACCOUNT,
        )["associations"]
        if not listed:
            return None
        found = eks.describe_pod_identity_association(
            clusterName=cluster_name, associationId=listed[0]["associationId"]
        )["association"]
    except ClientError as error:
        if error_code(error) == _NOT_FOUND:  # the cluster, or the association meanwhile
            return None
        raise
    return _state(found, stack)


def _state(found: Any, stack: str) -> PodIdentityAssociationState:
    tags = dict(found.get("tags") or {})
    return PodIdentityAssociationState(
        association_id=found["associationId"],
        arn=found["associationArn"],
        cluster_name=found["clusterName"],
        namespace=found["namespace"],
        service_account=found["serviceAccount"],
        role_arn=found["roleArn"],
        owned=sharing.made_by_tool(tags),  # the cluster's: any kubeflow-alb stack's to use
        tags=tags,
    )


@aws_task
def observe_pod_identity_association(
    ctx: AwsContext, spec: StackSpec, cluster_name: str
) -> PodIdentityAssociationState | None:
    """Find the EKS Pod Identity association of the controller's service account."""
    return read_association(client(ctx, "eks"), cluster_name, spec.name)


@aws_task
def observe_pod_identity_agent(ctx: AwsContext, cluster_name: str) -> str | None:
    """The status of the cluster's eks-pod-identity-agent add-on (None: not installed)."""
    eks = client(ctx, "eks")
    addon = or_none(
        _NOT_FOUND,
        lambda: eks.describe_addon(clusterName=cluster_name, addonName=POD_IDENTITY_AGENT)["addon"],
    )
    return None if addon is None else str(addon.get("status") or "UNKNOWN")


def require_pod_identity_agent(spec: StackSpec, *, cluster: str, status: str | None) -> None:
    """Stop, before anything is made, when the Pod Identity Agent cannot serve the controller
    (an IRSA stack needs none: it may only have an association of its past to remove)."""
    if not uses_pod_identity(spec):
        return
    problem = agent_problem(spec, cluster=cluster, region=spec.region, status=status)
    if problem:
        raise PreflightError(problem)


def _token(spec: StackSpec, cluster_name: str, role_arn: str) -> str:
    """The idempotency token: the same request of the same stack, the same token."""
    seed = f"{spec.name}/{cluster_name}/{naming.CONTROLLER_SERVICE_ACCOUNT}/{role_arn}"
    return "kfalb-" + hashlib.sha256(seed.encode()).hexdigest()[:32]


@aws_task
def ensure_pod_identity_association(
    ctx: AwsContext,
    spec: StackSpec,
    cluster_name: str,
    *,
    role_arn: str,
    users: tuple[str, ...] = (),
) -> PodIdentityAssociationState:
    """Make sure the controller's service account is associated with its role (create the
    association, or point ours at the role). It is the cluster's, like the controller: held by
    the stack (its user mark) and, of `users` (the controller's other users as observed), by
    those still of the previous version. Under the cluster's lock."""
    with cluster_lease(spec.region, cluster_name, holder=spec.name):
        return _ensure(ctx, spec, cluster_name, role_arn=role_arn, users=users)


def _ensure(
    ctx: AwsContext, spec: StackSpec, cluster_name: str, *, role_arn: str, users: tuple[str, ...]
) -> PodIdentityAssociationState:
    eks, log = client(ctx, "eks"), run_logger()
    found = read_association(eks, cluster_name, spec.name)
    users = users_to_mark(client(ctx, "iam"), found.tags if found else {}, users, spec.name)
    if found is None:
        try:
            made = eks.create_pod_identity_association(
                clusterName=cluster_name,
                namespace=naming.CONTROLLER_NAMESPACE,
                serviceAccount=naming.CONTROLLER_SERVICE_ACCOUNT,
                roleArn=role_arn,
                clientRequestToken=_token(spec, cluster_name, role_arn),
                tags=sharing.creation_marks(spec.tags, (spec.name, *users)),
            )["association"]
        except ClientError as error:
            if error_code(error) != "ResourceInUseException":
                raise
            # Made meanwhile (a concurrent run, or someone else): look again, below.
            found = read_association(eks, cluster_name, spec.name)
            if found is None:
                raise AwsTransientError(
                    f"A Pod Identity association for {_where(cluster_name)} exists but cannot "
                    "be read yet.",
                    code="ResourceInUseException",
                    operation="CreatePodIdentityAssociation",
                ) from None
        else:
            log.info("Created Pod Identity association %s", made["associationArn"])
            return _state(made, spec.name)
    if not found.owned:
        raise OwnershipError(
            f"Pod Identity association {found.arn} for {_where(cluster_name)} was not made by a "
            f"kubeflow-alb stack (it names {found.role_arn}); it is not changed. Delete it, or set "
            "stack.controller to skip if you manage the controller's identity yourself."
        )
    if found.role_arn != role_arn:
        eks.update_pod_identity_association(
            clusterName=cluster_name, associationId=found.association_id, roleArn=role_arn
        )
        log.info("Pointed Pod Identity association %s at %s", found.arn, role_arn)
    missing = sharing.marks_to_hold(found.tags, spec.name)
    missing |= {sharing.user_key(u): u for u in users if found.tags.get(sharing.user_key(u)) != u}
    if missing:
        eks.tag_resource(resourceArn=found.arn, tags=missing)
    if found.role_arn == role_arn and not missing:
        return found
    what = f"The Pod Identity association {found.arn}"
    return read_back(lambda: read_association(eks, cluster_name, spec.name), what)


@aws_task
def delete_pod_identity_association(ctx: AwsContext, spec: StackSpec, cluster_name: str) -> bool:
    """Remove the stack's use of the controller's Pod Identity association: drop its user mark,
    and delete the association when no mark remains (under the cluster's lock). False when
    nothing was deleted."""
    eks = client(ctx, "eks")
    with cluster_lease(spec.region, cluster_name, holder=spec.name):
        found = read_association(eks, cluster_name, spec.name)
        if found is None:
            return False
        if not found.owned:
            raise OwnershipError(
                f"Pod Identity association {found.arn} was not made by a kubeflow-alb stack; it "
                "is left."
            )
        return release(association_item(eks, cluster_name, found.arn), spec.name).deleted


def association_item(eks: EKSClient, cluster_name: str, arn: str) -> SharedItem:
    """The controller's Pod Identity association as a shared item (tasks/shared.py)."""
    association_id = arn.rsplit("/", 1)[-1]

    def marks() -> Marks | None:
        found = or_none(
            _NOT_FOUND,
            lambda: eks.describe_pod_identity_association(
                clusterName=cluster_name, associationId=association_id
            )["association"],
        )
        return None if found is None else dict(found.get("tags") or {})

    def unmark(keys: list[str]) -> None:
        try:
            eks.untag_resource(resourceArn=arn, tagKeys=keys)
        except ClientError as error:
            if error_code(error) != _NOT_FOUND:
                raise

    def delete() -> bool:
        try:
            eks.delete_pod_identity_association(
                clusterName=cluster_name, associationId=association_id
            )
        except ClientError as error:
            if error_code(error) == _NOT_FOUND:  # gone meanwhile, or our own lost answer
                return False
            raise
        run_logger().info("Deleted Pod Identity association %s", arn)
        return True

    return SharedItem(
        what=f"Pod Identity association {arn}",
        read_marks=marks,
        remove_marks=unmark,
        delete=delete,
        add_marks=lambda tags: eks.tag_resource(resourceArn=arn, tags=tags),
    )


def association_exists(ctx: AwsContext, arn: str) -> bool:
    """Whether the association of this ARN (`...:podidentityassociation/<cluster>/<id>`) is
    still there."""
    cluster_name, association_id = arn.split(":", 5)[5].split("/")[1:3]
    try:
        client(ctx, "eks").describe_pod_identity_association(
            clusterName=cluster_name, associationId=association_id
        )
    except ClientError as error:
        if error_code(error) == _NOT_FOUND:
            return False
        raise
    return True


def _where(cluster_name: str) -> str:
    return (
        f"service account {naming.CONTROLLER_NAMESPACE}/{naming.CONTROLLER_SERVICE_ACCOUNT} "
        f"in EKS cluster {cluster_name}"
    )
