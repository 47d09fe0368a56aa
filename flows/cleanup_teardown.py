"""Cleanup's deletions as steps in reverse dependency order; a failed step stops only its
dependents, so independent branches (certificates, zone, records, subnet tags) still go."""

from __future__ import annotations

from prefect import get_run_logger

from core.cleanup import (
    Survey,
    dashboard_records_to_delete,
    delegated_zone,
    deletions_by_zone,
    unneeded_validation_records,
)
from core.cleanup_steps import Outcome, Step, run_steps
from core.errors import KfalbError, WaitTimeout
from core.resources import RecordChange, ValidationZones
from core.spec import StackSpec
from core.state import Kind, StackRecord
from tasks.aws.acm import delete_certificate
from tasks.aws.clients import AwsContext
from tasks.aws.ec2 import delete_subnet_tags
from tasks.aws.elbv2 import delete_controller_resources
from tasks.aws.iam import delete_policy, delete_role
from tasks.aws.owned import (
    delete_owned_oidc_provider,
    delete_unused_backend_security_group,
    find_certificates,
)
from tasks.aws.pod_identity import delete_pod_identity_association
from tasks.aws.root_dns import root_dns, zone_access
from tasks.aws.route53 import delete_delegation, delete_hosted_zone
from tasks.aws.route53_records import change_records
from tasks.endoflife import delete_front_door, release_after_sweep
from tasks.k8s.cleanup import delete_stale_webhooks
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import delete_controller
from tasks.stack_block import StackStore


def take_down(
    spec: StackSpec,
    ctx: AwsContext,
    target: KubeTarget | None,
    found: Survey,
    *,
    record: StackRecord | None,
    store: StackStore | None,
) -> tuple[list[Step], Outcome]:
    """Delete what the survey found of the stack; go on past a failed step where nothing
    depends on it. Returns the steps and what became of each."""
    logger = get_run_logger()

    def dashboard_record() -> None:  # *.<subdomain> -> the ALB
        dashboard = dashboard_records_to_delete(found, record)
        if found.zone is not None and dashboard:
            deletions = [RecordChange(action="DELETE", record=item) for item in dashboard]
            change_records(ctx, found.zone.zone_id, deletions)

    def ingress() -> None:  # its controller deletes the ALB, target groups and security groups
        stuck = found.own_ingress is not None or bool(found.own_bindings)
        if target is not None and stuck and not _deleted_by_controller(ctx, target, spec, found):
            delete_stale_webhooks(target, spec.name)  # they refuse the finalizer removals
            release_after_sweep(ctx, target, spec)  # the finalizer goes once nothing is left
        # What the controller made for the stack and left (or made for an Ingress gone already).
        delete_controller_resources(ctx, spec)

    def controller() -> None:
        if target is not None and found.controller_objects:
            delete_controller(target, spec.name)
            # Its backend security group outlives it when it was gone before its last ALB.
            delete_unused_backend_security_group(ctx, spec.cluster.name)

    def pod_identity() -> None:
        if found.pod_identity is not None and found.pod_identity.owned:
            delete_pod_identity_association(ctx, spec, found.pod_identity.cluster_name)

    def role() -> None:  # the cluster's goes with its last user; a previous version's, now
        if found.role is not None and found.role.owned:
            delete_role(ctx, spec)
        if found.legacy_role is not None and found.legacy_role.owned:
            delete_role(ctx, spec, legacy=True)

    def policy() -> None:
        if found.policy is not None and found.policy.owned:
            delete_policy(ctx, spec)
        if found.legacy_policy is not None and found.legacy_policy.owned:
            delete_policy(ctx, spec, legacy=True)

    def oidc_provider() -> None:
        for provider in found.oidc_providers:
            delete_owned_oidc_provider(ctx, provider.arn, stack=spec.name,
                                       cluster_name=spec.cluster.name)  # fmt: skip

    def subnet_tags() -> None:
        if found.subnet_tags:
            delete_subnet_tags(ctx, found.subnet_tags, cluster_name=spec.cluster.name)

    def certificates() -> None:  # now that no load balancer uses them
        futures = [delete_certificate.submit(ctx, c.arn, stack=spec.name)
                   for c in found.certificates if c.owned]  # fmt: skip
        errors = []
        for future in futures:
            try:
                future.result()
            except KfalbError as error:  # the others still go
                errors.append(error)
        if errors:
            raise errors[0]

    def validation_records() -> None:  # those no remaining certificate validates through
        zones = ValidationZones(subdomain=spec.subdomain, root=spec.root,
                                subdomain_zone_id=found.zone.zone_id if found.zone else None,
                                root_zone_id=found.root_zone_id)  # fmt: skip
        remaining = find_certificates(ctx, spec.name, zones=zones)
        unneeded = unneeded_validation_records(found.validation_records, remaining)
        for zone_id, changes in deletions_by_zone(unneeded).items():
            access = zone_access(ctx, spec, zone_id, root_zone_id=found.root_zone_id)
            change_records(access, zone_id, changes)

    def delegation() -> None:
        delegated = delegated_zone(found, record)
        if delegated is not None and found.root_zone_id is not None:
            delete_delegation(root_dns(ctx, spec), found.root_zone_id, delegated)

    def zone() -> None:
        if found.zone is not None and found.zone.owned:
            delete_hosted_zone(ctx, spec, zone_id=found.zone.zone_id)

    steps = [
        Step("dashboard record", (Kind.DNS_RECORD,), dashboard_record),
        Step("ingress", (Kind.INGRESS, Kind.LOAD_BALANCER), ingress),
        Step("controller", (Kind.CONTROLLER,), controller, after=("ingress",)),
        Step("pod identity association", (Kind.POD_IDENTITY,), pod_identity,
             after=("controller",)),
        Step("iam role", (Kind.IAM_ROLE,), role, after=("controller", "pod identity association")),
        Step("iam policy", (Kind.IAM_POLICY,), policy, after=("iam role",)),
        Step("oidc provider", (Kind.OIDC_PROVIDER,), oidc_provider, after=("iam role",)),
        Step("subnet tags", (Kind.SUBNET_TAG,), subnet_tags, after=("ingress",)),
        Step("certificates", (Kind.CERTIFICATE,), certificates, after=("ingress",)),
        Step("validation records", (Kind.VALIDATION_RECORD,), validation_records),
        Step("delegation", (Kind.DELEGATION,), delegation),
        Step("hosted zone", (Kind.HOSTED_ZONE,), zone,
             after=("dashboard record", "validation records", "delegation")),
    ]  # fmt: skip

    def failed(step: Step, error: BaseException) -> None:
        if isinstance(error, KfalbError):
            logger.error("Cleanup step %s of stack %s failed (going on with the steps that do "
                         "not depend on it): %s", step.name, spec.name, error)  # fmt: skip
        else:
            logger.exception("Cleanup step %s of stack %s failed", step.name, spec.name)

    outcome = run_steps(steps, on_done=lambda step: _forget(store, *step.kinds), on_error=failed)
    for name, why in outcome.skipped.items():
        logger.warning("Cleanup step %s of stack %s %s", name, spec.name, why)
    return steps, outcome


def _deleted_by_controller(
    ctx: AwsContext, target: KubeTarget, spec: StackSpec, found: Survey
) -> bool:
    """Delete the Ingress through its controller; False when no controller is there to do it."""
    logger = get_run_logger()
    if found.own_ingress is None:
        return False  # only bindings are left, of an Ingress the controller no longer knows
    if found.controller is None or not found.controller.usable:
        logger.warning("No ALB controller serves the Ingress: removing its ALB by tags.")
        return False
    try:
        delete_front_door(ctx, target, spec)  # names the cause when it stays terminating
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
