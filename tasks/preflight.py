"""Ownership preflight: what setup would have to refuse, found (read only) before it creates anything.

Setup refuses to change a same-named IAM policy or role, an Ingress at istio-system/istio-ingress
or a `*.<subdomain>` record that are not ours. Found only when setup reaches them, they stop it
after the zone, certificates and records were made; found here, nothing is made at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import ClientError
from prefect import task
from prefect.cache_policies import NO_CACHE

from core import naming
from core.errors import OwnershipError
from core.resources import RecordSetState
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client
from tasks.aws.elbv2 import read_load_balancer
from tasks.aws.errors import aws_task, error_code
from tasks.aws.iam import read_role
from tasks.aws.iam_policy import read_policy
from tasks.aws.route53 import find_subdomain_zone
from tasks.aws.route53_records import read_record
from tasks.aws.sts import caller_identity
from tasks.k8s.clients import KubeTarget, connect
from tasks.k8s.ingress import read_ingress

#: Record types setup writes at `*.<subdomain>` (alias A, or CNAME), and what would clash.
RECORD_TYPES = ("A", "AAAA", "CNAME")


def _mark(stack: str) -> str:
    return f"{naming.STACK_TAG}={stack}, {naming.MANAGED_BY_TAG}={naming.TOOL}"


@aws_task
def find_aws_conflicts(
    ctx: AwsContext, spec: StackSpec, *, iam: bool = True, recorded: Iterable[str] = ()
) -> tuple[str, ...]:
    """Read the IAM policy and role setup would create, and the `*.<subdomain>` record it would
    write; return one line per resource that exists without this stack's ownership mark.

    Args:
        ctx: AWS region and credentials.
        spec: the stack.
        iam: also check the controller's policy and role (only made when setup installs it).
        recorded: ids of DNS records in the stack's block (`<zone id>/<name>/<type>`): ours.
    """
    found: list[str] = []
    if iam:
        found.extend(_iam_conflicts(ctx, spec))
    found.extend(_record_conflicts(ctx, spec, set(recorded)))
    return tuple(found)


def _iam_conflicts(ctx: AwsContext, spec: StackSpec) -> list[str]:
    identity, iam, stack = caller_identity(ctx), client(ctx, "iam"), spec.name
    arn = f"arn:{identity.partition}:iam::{identity.account}:policy/{naming.policy_name(stack)}"
    found = []
    policy = read_policy(iam, arn, stack=stack, document={})
    if policy is not None and not policy.owned:
        found.append(
            f"IAM policy {arn} exists without stack {stack}'s tags ({_mark(stack)}); setup would "
            "have to change it. Delete it if it is a leftover, or choose another stack.name."
        )
    role = read_role(iam, naming.role_name(stack), stack=stack, trust={})
    if role is not None and not role.owned:
        found.append(
            f"IAM role {role.arn} exists without stack {stack}'s tags ({_mark(stack)}); setup "
            "would have to change its trust policy. Delete it if it is a leftover, or choose "
            "another stack.name."
        )
    return found


def _record_conflicts(ctx: AwsContext, spec: StackSpec, recorded: set[str]) -> list[str]:
    r53 = client(ctx, "route53")
    zone = find_subdomain_zone(r53, spec)
    if zone is None or zone.owned:  # no zone yet, or ours: every record in it is ours to set
        return []
    name = naming.wildcard(spec.subdomain)
    found = []
    for type_ in RECORD_TYPES:
        try:
            record = read_record(r53, zone.zone_id, name, type_)
        except ClientError as error:
            if error_code(error) == "NoSuchHostedZone":  # deleted meanwhile: nothing to clash
                return []
            raise
        if record is None or f"{zone.zone_id}/{record.name}/{record.type}" in recorded:
            continue
        if _points_at_ours(ctx, record, spec.name):
            continue
        target = record.alias.dns_name if record.alias else ", ".join(record.values)
        found.append(
            f"Record {name} {type_} in hosted zone {zone.zone_id} ({zone.name}, not created by "
            f"stack {spec.name}) points at {target}, not at a load balancer of this stack; setup "
            "would overwrite it. Remove it if it is a leftover, or use another subdomain."
        )
    return found


def _points_at_ours(ctx: AwsContext, record: RecordSetState, stack: str) -> bool:
    """True when the record targets an ALB that carries this stack's tags (an earlier run's)."""
    target = record.alias.dns_name if record.alias else (record.values or ("",))[0]
    if not target.rstrip(".").endswith(".elb.amazonaws.com"):
        return False
    balancer = read_load_balancer(client(ctx, "elbv2"), dns_name=target, stack=stack)
    return balancer is not None and balancer.owned


@task(name="find-kubernetes-conflicts", cache_policy=NO_CACHE)
def find_kubernetes_conflicts(target: KubeTarget, spec: StackSpec) -> tuple[str, ...]:
    """Read the Ingress setup would apply; one line if it exists without this stack's labels."""
    namespace, name = naming.INGRESS_NAMESPACE, naming.INGRESS_NAME
    with connect(target) as kube:
        ingress = read_ingress(kube, namespace, name)
    if ingress is None or ingress.owned_by(spec.name):
        return ()
    return (
        f"Ingress {ingress.key} exists without stack {spec.name}'s labels ({_mark(spec.name)}); "
        "setup would have to overwrite it. Delete it if it is a leftover (the ALB controller then "
        "removes its ALB), or keep it and do not run setup on this cluster.",
    )


def refuse_conflicts(*found: Iterable[str]) -> None:
    """Raise one OwnershipError listing every conflict found, or return when there is none."""
    lines = [line for group in found for line in group]
    if lines:
        raise OwnershipError(
            "Setup stopped before creating anything: "
            + ("\n  " if len(lines) > 1 else "")
            + "\n  ".join(lines)
        )


def preflight_ownership(
    ctx: AwsContext,
    spec: StackSpec,
    target: KubeTarget,
    *,
    iam: bool = True,
    recorded: Iterable[str] = (),
) -> None:
    """The ownership preflight of setup: AWS and Kubernetes read concurrently, then one verdict."""
    aws = find_aws_conflicts.submit(ctx, spec, iam=iam, recorded=tuple(recorded))
    kube = find_kubernetes_conflicts.submit(target, spec)
    refuse_conflicts(aws.result(), kube.result())
