"""What a stack owns, found by its ownership tags (cleanup's view, which needs no block or cluster)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core import sharing
from core.dnsnames import is_under, normalise
from core.errors import OwnershipError
from core.resources import CertificateState, OidcProviderState, ValidationZones
from core.settings import Settings, get_settings
from tasks.aws.acm import read_certificate
from tasks.aws.clients import AwsContext, client
from tasks.aws.elbv2 import CLUSTER_TAG, delete_security_group
from tasks.aws.errors import aws_task, or_none
from tasks.aws.iam_shared import provider_item
from tasks.cluster_lock import cluster_lease
from tasks.logs import run_logger
from tasks.shared import release

if TYPE_CHECKING:
    from mypy_boto3_acm.literals import CertificateStatusType, KeyAlgorithmType
    from mypy_boto3_iam import IAMClient

#: ListCertificates shows only some statuses and RSA-2048 keys unless asked for all of them.
ALL_STATUSES: list[CertificateStatusType] = [
    "PENDING_VALIDATION",
    "ISSUED",
    "INACTIVE",
    "EXPIRED",
    "VALIDATION_TIMED_OUT",
    "REVOKED",
    "FAILED",
]
#: The tag of the security group the ALB controller shares between its load balancers of a cluster.
BACKEND_SG_TAG = ("elbv2.k8s.aws/resource", "backend-sg")
ALL_KEY_TYPES: list[KeyAlgorithmType] = [
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
]


def _names_under(summary: Any, domain: str) -> bool:
    """Whether a listed certificate may be the stack's or share a validation record with it:
    a name of it is the domain or under it (or the list does not show all its names)."""
    names = [
        summary.get("DomainName", ""),
        *summary.get("SubjectAlternativeNameSummaries", []),
        *summary.get("SubjectAlternativeNames", []),
    ]
    under = any(
        normalise(name).removeprefix("*.") == domain or is_under(normalise(name), domain)
        for name in names
    )
    return under or bool(summary.get("HasAdditionalSubjectAlternativeNames"))


@aws_task
def find_certificates(
    ctx: AwsContext, stack: str, *, zones: ValidationZones
) -> tuple[CertificateState, ...]:
    """The ACM certificates of the region with a name in the root domain, of any status and key
    type, each marked owned when it carries the stack's tags. The others matter too: they may
    validate through the same DNS record as one of the stack's."""
    acm, root = client(ctx, "acm"), normalise(zones.root)
    pages = acm.get_paginator("list_certificates").paginate(
        CertificateStatuses=ALL_STATUSES, Includes={"keyTypes": ALL_KEY_TYPES}
    )
    arns = [
        item["CertificateArn"]
        for page in pages
        for item in page["CertificateSummaryList"]
        if _names_under(item, root)
    ]
    states = [read_certificate(acm, arn, stack=stack, zones=zones) for arn in arns]
    return tuple(state for state in states if state is not None)


def _provider(iam: IAMClient, arn: str, stack: str) -> OidcProviderState | None:
    found: Any = or_none(
        "NoSuchEntity", lambda: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    )
    if found is None:
        return None
    tags = {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}
    return OidcProviderState(
        arn=arn,
        url=found.get("Url", ""),
        client_ids=tuple(found.get("ClientIDList", [])),
        thumbprints=tuple(found.get("ThumbprintList", [])),
        owned=sharing.made_by_tool(tags),
        tags=tags,
    )


@aws_task
def find_oidc_providers(
    ctx: AwsContext, stack: str, recorded: Sequence[str] = ()
) -> tuple[OidcProviderState, ...]:
    """The IAM OIDC providers the stack uses (its user mark, or the previous version's stack
    tags), whatever cluster they are for; and one its block lists (`recorded` ARNs) that has no
    user left: its release took the mark off and was killed before the delete."""
    iam = client(ctx, "iam")
    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    states = [_provider(iam, item["Arn"], stack) for item in listed]
    return tuple(
        state
        for state in states
        if state is not None
        and state.owned
        and (
            sharing.uses(state.tags, stack)
            or (state.arn in recorded and not sharing.item_users(state.tags))
        )
    )


@aws_task
def delete_owned_oidc_provider(
    ctx: AwsContext, arn: str, *, stack: str, cluster_name: str = ""
) -> bool:
    """Remove the stack's use of an IAM OIDC provider: drop its user mark, and delete the
    provider when no mark remains, under the lock of the stack's cluster (`cluster_name`;
    without it, a lock named after the provider's issuer). False when nothing was deleted."""
    iam = client(ctx, "iam")
    with cluster_lease(ctx.region, cluster_name or arn.rsplit("/", 1)[-1], holder=stack):
        state = _provider(iam, arn, stack)
        if state is None:
            return False
        if not state.owned:
            raise OwnershipError(f"OIDC provider {arn} was not made by a kubeflow-alb stack; left.")
        return release(provider_item(iam, arn), stack).deleted


def _unused_backend_group(ctx: AwsContext, cluster_name: str) -> str | None:
    groups = client(ctx, "ec2").describe_security_groups(
        Filters=[
            {"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster_name]},
            {"Name": f"tag:{BACKEND_SG_TAG[0]}", "Values": [BACKEND_SG_TAG[1]]},
        ]
    )["SecurityGroups"]
    if not groups:
        return None
    group_id = groups[0]["GroupId"]
    pages = client(ctx, "elbv2").get_paginator("describe_load_balancers").paginate()
    used = any(group_id in lb.get("SecurityGroups", []) for p in pages for lb in p["LoadBalancers"])
    return None if used else group_id


@aws_task
def find_unused_backend_security_group(ctx: AwsContext, cluster_name: str) -> str | None:
    """The ALB controller's shared backend security group of the cluster, when no load balancer
    uses it any more (the controller deletes it with its last one, unless it is gone first)."""
    return _unused_backend_group(ctx, cluster_name)


@aws_task
def delete_unused_backend_security_group(
    ctx: AwsContext, cluster_name: str, *, settings: Settings | None = None
) -> bool:
    """Delete the cluster's shared backend security group if no load balancer uses it, after
    revoking the node rules that name it; False when there is none (or it is in use)."""
    group_id = _unused_backend_group(ctx, cluster_name)
    if group_id is None:
        return False
    delete_security_group(client(ctx, "ec2"), group_id, settings or get_settings())
    run_logger().info("Deleted the controller's backend security group %s", group_id)
    return True
