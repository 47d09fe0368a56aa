"""The cleanup flow: remove everything a stack created, in reverse order, and prove nothing is left."""

from __future__ import annotations

from prefect import flow, get_run_logger

from core import naming
from core.cleanup import (
    Survey,
    dashboard_records_to_delete,
    delegated_zone,
    deletions_by_zone,
    resolve_spec,
    unneeded_validation_records,
)
from core.cleanup_report import cleanup_summary, incomplete, kept, leftover_rows, leftovers
from core.errors import SpecError, WaitTimeout
from core.resources import ClusterState, RecordChange, ValidationZones
from core.spec import StackSpec
from core.state import Kind, StackRecord
from flows.cleanup_survey import survey_stack
from flows.reporting import publish_api_calls, publish_markdown, publish_table
from tasks.aws.acm import delete_certificate
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.ec2 import delete_subnet_tags
from tasks.aws.eks import observe_cluster
from tasks.aws.elbv2 import delete_controller_resources
from tasks.aws.iam import delete_policy, delete_role
from tasks.aws.owned import (
    delete_owned_oidc_provider,
    delete_unused_backend_security_group,
    find_certificates,
)
from tasks.aws.route53 import delete_delegation, delete_hosted_zone, find_root_zone
from tasks.aws.route53_records import change_records
from tasks.k8s.cleanup import delete_stale_webhooks, release_ingress
from tasks.k8s.clients import AccessMode as KubeAccess
from tasks.k8s.clients import KubeTarget, cluster_target
from tasks.k8s.controller import delete_controller
from tasks.k8s.ingress import delete_ingress
from tasks.stack_block import StackStore, delete_record, load_record, stack_lock


@flow(name="cleanup-load-balancer", log_prints=False)
def cleanup_load_balancer(
    stack: str | None = None,
    spec: StackSpec | None = None,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
) -> dict[str, list[str]]:
    """Remove every resource the stack created, in reverse dependency order, and report what is
    left (the goal: nothing). Pre-existing resources setup adopted are left and listed.

    Works from the stack's saved block, or, when the block is lost, from the spec alone by the
    stack's ownership tags and labels. Re-running is safe: a clean stack makes no change.

    Args:
        stack: the stack's name (its saved block); may be empty when a spec is given.
        spec: the stack's spec; needed when the block is lost.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
    """
    name = stack or (spec.name if spec is not None else None)
    if not name:
        raise SpecError("Name the stack to clean up, or pass its spec.")
    with stack_lock(name):
        record = load_record(name)
        spec = resolve_spec(name, spec, record)
        ctx = AwsContext(region=spec.region, credentials_block=aws_credentials_block)
        return _cleanup(spec, record, ctx, kube_access)


def _cleanup(
    spec: StackSpec, record: StackRecord | None, ctx: AwsContext, kube_access: KubeAccess
) -> dict[str, list[str]]:
    logger = get_run_logger()
    calls_before = api_calls()
    store = StackStore(record) if record is not None else None
    if store is not None:
        store.set_phase("cleaning-up")
    else:
        logger.warning("No saved block for stack %s: finding its resources by their tags and "
                       "labels only.", spec.name)  # fmt: skip
    cluster = observe_cluster(ctx, spec.cluster.name)
    target = _kube_target(kube_access, cluster, ctx)
    root_zone = find_root_zone(ctx, spec)
    root_zone_id = root_zone.zone_id if root_zone else None

    def survey() -> Survey:
        return survey_stack(ctx, spec, record=record, target=target, root_zone_id=root_zone_id)

    failure: Exception | None = None
    try:
        _take_down(spec, ctx, target, survey(), record=record, store=store)
    except Exception as error:  # the leak report comes first; the error is raised after it
        failure = error
        logger.error("Cleanup of stack %s stopped: %s", spec.name, error)
    try:
        final = survey()
    except Exception:
        if failure is not None:
            logger.exception("The final survey failed as well")
            raise failure from None
        raise
    left, keep = leftovers(final, record), kept(final, record)
    notes = _notes(spec, cluster, root_zone_id, record)
    publish_markdown(spec.name, "leftovers", cleanup_summary(spec.name, left, keep, notes),
                     f"What is left of stack {spec.name}")  # fmt: skip
    publish_table(spec.name, "leftovers-table", leftover_rows(left, keep),
                  f"Resources of stack {spec.name} still present after cleanup")  # fmt: skip
    calls = api_calls().since(calls_before)
    publish_api_calls(spec.name, calls)
    if failure is not None:
        raise failure
    if any(left.values()):
        raise incomplete(spec.name, left)
    if store is not None:
        delete_record(spec.name)
    logger.info("Stack %s is gone (%d mutating AWS calls)", spec.name, calls.mutating)
    return left


def _take_down(
    spec: StackSpec,
    ctx: AwsContext,
    target: KubeTarget | None,
    found: Survey,
    *,
    record: StackRecord | None,
    store: StackStore | None,
) -> None:
    """Delete what the survey found of the stack, in reverse dependency order."""
    # 1. *.<subdomain> -> the ALB.
    dashboard = dashboard_records_to_delete(found, record)
    if found.zone is not None and dashboard:
        deletions = [RecordChange(action="DELETE", record=item) for item in dashboard]
        change_records(ctx, found.zone.zone_id, deletions)
    _forget(store, Kind.DNS_RECORD)

    # 2. The Ingress: its controller deletes the ALB, target groups and security groups first.
    stuck = found.own_ingress is not None or bool(found.own_bindings)
    if target is not None and stuck and not _deleted_by_controller(target, spec, found):
        # Our webhooks would refuse the updates that remove the controller's finalizers.
        delete_stale_webhooks(target, spec.name)
        delete_controller_resources(ctx, spec)
        release_ingress(target, stack=spec.name, name=spec.ingress_name)
    # What the controller made for the stack and left (or made for an Ingress already gone).
    delete_controller_resources(ctx, spec)
    _forget(store, Kind.INGRESS, Kind.LOAD_BALANCER)

    # 3. The controller, if this stack installed it.
    if target is not None and found.controller_objects:
        delete_controller(target, spec.name)
        # Its backend security group outlives it when it was gone before its last ALB.
        delete_unused_backend_security_group(ctx, spec.cluster.name)
    _forget(store, Kind.CONTROLLER)

    # 4-6. IAM: the role (policies detached), the policy (every version), the OIDC provider.
    if found.role is not None and found.role.owned:
        delete_role(ctx, spec)
    if found.policy is not None and found.policy.owned:
        delete_policy(ctx, spec)
    for provider in found.oidc_providers:
        delete_owned_oidc_provider(ctx, provider.arn, stack=spec.name)
    _forget(store, Kind.IAM_ROLE, Kind.IAM_POLICY, Kind.OIDC_PROVIDER)

    # 7. The subnet tags the stack added (and its markers).
    if found.subnet_tags:
        delete_subnet_tags(ctx, found.subnet_tags)
    _forget(store, Kind.SUBNET_TAG)

    # 8. Certificates, now that no load balancer uses them.
    deleting = [delete_certificate.submit(ctx, c.arn, stack=spec.name)
                for c in found.certificates if c.owned]  # fmt: skip
    for future in deleting:
        future.result()
    _forget(store, Kind.CERTIFICATE)

    # 9. Validation records no remaining certificate validates through (ACM shares them).
    zones = ValidationZones(subdomain=spec.subdomain, root=spec.root,
                            subdomain_zone_id=found.zone.zone_id if found.zone else None,
                            root_zone_id=found.root_zone_id)  # fmt: skip
    remaining = find_certificates(ctx, spec.name, zones=zones)
    unneeded = unneeded_validation_records(found.validation_records, remaining)
    for zone_id, changes in deletions_by_zone(unneeded).items():
        change_records(ctx, zone_id, changes)
    _forget(store, Kind.VALIDATION_RECORD)

    # 10-11. The delegation in the root zone, then the subdomain's zone, if the stack made it.
    delegated = delegated_zone(found, record)
    if delegated is not None and found.root_zone_id is not None:
        delete_delegation(ctx, found.root_zone_id, delegated)
    if found.zone is not None and found.zone.owned:
        delete_hosted_zone(ctx, spec, zone_id=found.zone.zone_id)
    _forget(store, Kind.DELEGATION, Kind.HOSTED_ZONE)


def _deleted_by_controller(target: KubeTarget, spec: StackSpec, found: Survey) -> bool:
    """Delete the Ingress through its controller; False when no controller is there to do it."""
    logger = get_run_logger()
    if found.own_ingress is None:
        return False  # only bindings are left, of an Ingress the controller no longer knows
    if found.controller is None or not found.controller.usable:
        logger.warning("No ALB controller serves the Ingress: removing its ALB by tags.")
        return False
    try:
        delete_ingress(target, stack=spec.name, name=spec.ingress_name)
    except WaitTimeout as error:
        logger.warning("The controller did not delete the Ingress; removing its ALB by tags: %s",
                       error)  # fmt: skip
        return False
    return True


def _forget(store: StackStore | None, *kinds: Kind) -> None:
    """Drop the owned resources of these kinds from the record once their step is done."""
    if store is None:
        return
    for kind in kinds:
        done = [item.id for item in store.record.of_kind(kind) if item.owned]
        if done:
            store.remove(kind, *done)


def _kube_target(
    kube_access: KubeAccess, cluster: ClusterState | None, ctx: AwsContext
) -> KubeTarget | None:
    if cluster is None:
        get_run_logger().warning("The EKS cluster is gone: nothing to clean up in Kubernetes.")
        return None
    return cluster_target(kube_access, cluster, ctx)


def _notes(
    spec: StackSpec,
    cluster: ClusterState | None,
    root_zone_id: str | None,
    record: StackRecord | None,
) -> list[str]:
    notes = []
    if record is None:
        notes.append("The stack's block was lost: resources were found by ownership tags and "
                     f"labels ({naming.STACK_TAG}={spec.name}) and subnet tag markers only.")  # fmt: skip
    if cluster is None:
        notes.append(
            f"EKS cluster {spec.cluster.name} does not exist: Kubernetes was not looked at."
        )
    if root_zone_id is None:
        notes.append(f"{spec.root} is not in Route53: remove the NS records of {spec.subdomain} "
                     f"and any validation CNAMEs you added at its DNS provider by hand.")  # fmt: skip
    return notes
