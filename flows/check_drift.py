"""The drift check: every item of a stack against its desired state; on request, re-apply the drift."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from core import records
from core.desired import dashboard_record, partition_of, role_arn
from core.drift import drift_plan, drift_rows, drifted_names
from core.errors import DriftDetected, ResourceNotFound
from core.observation import Observation, controller_is_ours, ingress_class, validation_zones
from core.plan import Plan, plan_rows
from core.remediation import Repair, repairs
from core.resources import RecordChange
from core.spec import StackSpec, parse_spec
from core.state import Kind, StackRecord
from flows.reporting import publish_table
from tasks.aws.acm import desired_certificates, ensure_certificate, validation_changes
from tasks.aws.acm_issuance import wait_for_certificates
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.ec2 import ensure_subnet_tags
from tasks.aws.eks import observe_cluster
from tasks.aws.elbv2 import observe_load_balancer, wait_for_load_balancer
from tasks.aws.iam import ensure_oidc_provider, ensure_role
from tasks.aws.iam_policy import ensure_policy
from tasks.aws.route53 import ensure_delegation, ensure_hosted_zone
from tasks.aws.route53_records import change_records
from tasks.aws.world import check_world
from tasks.dns import wait_for_dns
from tasks.https import wait_for_dashboard
from tasks.k8s.clients import AccessMode as KubeAccess
from tasks.k8s.clients import KubeTarget, cluster_target
from tasks.k8s.controller import ensure_controller
from tasks.k8s.ingress import desired_ingress, ensure_ingress, wait_for_ingress_address
from tasks.observe import (
    ClusterObjects,
    observe_aws_resources,
    observe_cluster_objects,
    observe_dependents,
    observe_stack,
)
from tasks.stack_block import StackStore, load_record, saved_stacks, stack_lock

DRIFT_EVENT = "kubeflow-alb.drift.detected"
REMEDIATED_EVENT = "kubeflow-alb.drift.remediated"


@flow(name="drift-check", log_prints=False)
def check_drift(
    stack: str | None = None,
    spec: StackSpec | None = None,
    remediate: bool = False,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
) -> dict[str, Any]:
    """Compare every resource of a stack with its desired state (read only) and publish the table.
    On drift, emit `kubeflow-alb.drift.detected` and fail; with remediate, re-apply only what
    drifted, check again, and succeed once nothing differs.

    Args:
        stack: name of a saved stack (its spec comes from the stack's block).
        spec: the stack's spec; needed only when the stack has no block.
        remediate: re-apply the drifted items (holds the stack's lock while doing so).
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
    """
    logger = get_run_logger()
    record = load_record(stack or (spec.name if spec else ""))
    spec = spec or _saved_spec(stack, record)
    ctx = AwsContext(region=spec.region, credentials_block=aws_credentials_block)
    check_world(ctx, record, spec.cluster.name)  # refuses a block of another account or cluster
    seen = _observe(spec, ctx, kube_access, record)
    result = drift_plan(spec, seen)
    _publish(spec.name, result, "Drift check")
    outputs: dict[str, Any] = {"stack": spec.name, "drifted": list(drifted_names(result))}
    if result.converged:
        logger.info("Stack %s: no drift in %d items", spec.name, len(result.changes))
        return {**outputs, "status": "ok", "repaired": []}
    _announce(DRIFT_EVENT, spec.name, result, remediate=remediate)
    logger.warning("Stack %s drifted: %s", spec.name, ", ".join(drifted_names(result)))
    if remediate:
        calls = api_calls()
        with stack_lock(spec.name):
            target = cluster_target(kube_access, seen.cluster, ctx)
            done = _remediate(spec, ctx, target, seen, repairs(spec, result))
            seen = _observe(spec, ctx, kube_access, load_record(spec.name))
        changed = api_calls().since(calls).mutating
        publish_table(spec.name, "drift-remediation", done or [{"repair": "-", "result": "nothing to re-apply"}],
                      f"What remediation re-applied ({changed} mutating AWS calls)")  # fmt: skip
        first, result = result, drift_plan(spec, seen)
        _publish(spec.name, result, "After remediation")
        if result.converged:
            _announce(REMEDIATED_EVENT, spec.name, first, remediate=True)
            logger.info("Stack %s: drift repaired (%s)", spec.name, ", ".join(outputs["drifted"]))
            return {**outputs, "status": "repaired", "repaired": [row["repair"] for row in done]}
    names = drifted_names(result)
    raise DriftDetected(
        f"Stack {spec.name} drifted: {', '.join(names)}. See the '{spec.name}-drift' artifact; "
        "re-run with remediate=true (or the setup flow) to re-apply the desired state.",
        items=names,
    )


@flow(name="drift-check-fleet", log_prints=False)
def check_drift_fleet(
    remediate: bool = False,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
) -> dict[str, str]:
    """Drift-check every saved stack at once; fail if any drifted (or could not be checked).

    Args:
        remediate: re-apply what drifted in each stack.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
    """
    stacks = saved_stacks()
    futures = {
        name: _check_one.submit(name, remediate, aws_credentials_block, kube_access)
        for name in stacks
    }
    results = {name: future.result() for name, future in futures.items()}
    rows = [{"stack": name, "result": status} for name, status in results.items()]
    publish_table("fleet", "drift", rows or [{"stack": "-", "result": "no saved stacks"}],
                  f"Drift of {len(stacks)} saved stacks")  # fmt: skip
    failed = tuple(name for name, status in results.items() if status not in ("ok", "repaired"))
    if failed:
        raise DriftDetected(
            f"{len(failed)} of {len(stacks)} stacks drifted or could not be checked: "
            + "; ".join(f"{name}: {results[name]}" for name in failed),
            items=failed,
        )
    return results


@task(name="drift-check-stack", cache_policy=NO_CACHE)  # a check is never a cached answer
def _check_one(
    stack: str, remediate: bool, aws_credentials_block: str | None, kube_access: KubeAccess
) -> str:
    """One stack's drift check as a subflow: ok, repaired, drifted (with the items) or error."""
    state = check_drift(stack=stack, remediate=remediate, aws_credentials_block=aws_credentials_block,
                        kube_access=kube_access, return_state=True)  # fmt: skip
    try:
        outputs = state.result()
    except DriftDetected as error:
        return "drifted: " + ", ".join(error.items)
    except Exception as error:  # one stack's failure is reported, the others still count
        return f"error: {error}"
    return str(outputs["status"])


def plan_stack(
    spec: StackSpec, credentials_block: str | None = None, *, kube_access: KubeAccess = "kubeconfig"
) -> Plan:
    """What setup would create, change or keep: the drift check's reads and planner, without a
    Prefect run (so `kfalb plan` needs no server). Works before anything exists."""
    ctx = AwsContext(region=spec.region, credentials_block=credentials_block)
    cluster = observe_cluster.fn(ctx, spec.cluster.name)
    target = cluster_target(kube_access, cluster, ctx)
    return drift_plan(spec, observe_stack(ctx, spec, cluster, target))


def _observe(
    spec: StackSpec, ctx: AwsContext, kube_access: KubeAccess, record: StackRecord | None
) -> Observation:
    cluster = observe_cluster(ctx, spec.cluster.name)
    target = cluster_target(kube_access, cluster, ctx)
    aws = observe_aws_resources.submit(ctx, spec, cluster)
    objects = observe_cluster_objects.submit(target, spec.name) if target else ClusterObjects()
    recorded = record.first(Kind.CONTROLLER) if record else None
    seen: Observation = observe_dependents(ctx, spec, aws, objects,
                                           controller_recorded=bool(recorded and recorded.owned))  # fmt: skip
    return seen


def _remediate(
    spec: StackSpec,
    ctx: AwsContext,
    target: KubeTarget | None,
    seen: Observation,
    todo: tuple[Repair, ...],
) -> list[dict[str, str]]:
    """Re-apply the repairs with setup's own tasks, in setup's order; record what they made."""
    store = StackStore.open(spec.name, spec.model_dump(mode="json", by_alias=True))
    done: list[dict[str, str]] = []
    zone, root, balancer = seen.zone, seen.root_zone, seen.load_balancer
    certificates = list(seen.certificates.values())
    if Repair.ZONE in todo or zone is None:
        zone = ensure_hosted_zone(ctx, spec)
        store.add(records.zone_resource(zone))
        done.append({"repair": Repair.ZONE, "result": f"zone {zone.zone_id}"})
    if Repair.DELEGATION in todo and root is not None:
        change = ensure_delegation(ctx, root.zone_id, zone)
        store.add(records.delegation_resource(root, zone))
        done.append({"repair": Repair.DELEGATION, "result": _changed(change.changed)})
    zones = validation_zones(spec, zone, root)
    if Repair.CERTIFICATES in todo:
        certificates = [ensure_certificate(ctx, spec, request, zones=zones)
                        for request in desired_certificates(spec)]  # fmt: skip
    if Repair.VALIDATION_RECORDS in todo:
        results = [change_records(ctx, zone_id, changes)
                   for zone_id, changes in validation_changes(certificates).items()]  # fmt: skip
        store.add(*records.validation_resources(certificates))
        done.append({"repair": Repair.VALIDATION_RECORDS,
                     "result": _changed(any(r.changed for r in results))})  # fmt: skip
    if Repair.CERTIFICATES in todo:
        certificates = list(wait_for_certificates(ctx, certificates, zones=zones))
        store.add(*map(records.certificate_resource, certificates))
        done.append(
            {"repair": Repair.CERTIFICATES, "result": ", ".join(c.arn for c in certificates)}
        )
    if Repair.SUBNET_TAGS in todo and seen.cluster is not None:
        added = ensure_subnet_tags(ctx, seen.cluster, stack=spec.name)
        store.add(*records.subnet_tag_resources(added))
        done.append({"repair": Repair.SUBNET_TAGS,
                     "result": ", ".join(f"{a.subnet_id} {a.key}" for a in added) or "unchanged"})  # fmt: skip
    ours = controller_is_ours(spec, seen)
    if Repair.IAM in todo and ours and seen.cluster is not None:
        provider = ensure_oidc_provider(ctx, spec, seen.cluster)
        policy = ensure_policy(ctx, spec)
        role = ensure_role(ctx, spec, provider, policy_arn=policy.arn)
        store.add(records.oidc_resource(provider), records.policy_resource(policy),
                  records.role_resource(role))  # fmt: skip
        done.append({"repair": Repair.IAM, "result": f"{provider.arn}, {policy.arn}, {role.arn}"})
    if Repair.CONTROLLER in todo and target is not None and seen.cluster is not None:
        identity = seen.identity
        arn = role_arn(spec, account=identity.account, partition=partition_of(identity.arn)) if (
            ours and identity) else ""  # fmt: skip
        outcome = ensure_controller(target, mode="install" if ours else spec.stack.controller,
                                    stack=spec.name, cluster_name=seen.cluster.name, region=spec.region,
                                    vpc_id=seen.cluster.vpc_id or "", role_arn=arn)  # fmt: skip
        store.add(records.controller_resource(outcome))
        done.append({"repair": Repair.CONTROLLER, "result": outcome.provider})
    if Repair.INGRESS in todo and target is not None:
        manifest = desired_ingress(stack=spec.name, certificate_arns=tuple(c.arn for c in certificates),
                                   scheme=spec.kubeflow.alb.scheme, tags=spec.tags,
                                   ingress_class=ingress_class(spec, seen),
                                   manifests_path=spec.stack.manifests_path)  # fmt: skip
        applied = ensure_ingress(target, manifest, stack=spec.name)
        ingress = wait_for_ingress_address(target)
        store.add(records.ingress_resource(ingress))
        found = observe_load_balancer(ctx, dns_name=ingress.hostname)
        if found is None:
            raise ResourceNotFound(f"No load balancer named {ingress.hostname} in {spec.region}")
        balancer = wait_for_load_balancer(ctx, found.arn)
        store.add(records.load_balancer_resource(balancer))
        done.append({"repair": Repair.INGRESS, "result": f"Ingress {applied.action}"})
    if Repair.DNS_RECORD in todo and balancer is not None:
        record = dashboard_record(spec, balancer)
        change = change_records(ctx, zone.zone_id, [RecordChange(action="UPSERT", record=record)])
        store.add(records.dns_record_resource(zone, record))
        wait_for_dns(spec.dashboard_host, balancer.dns_name, zone_name_servers=zone.name_servers)
        wait_for_dashboard(spec.dashboard_host)
        done.append({"repair": Repair.DNS_RECORD, "result": _changed(change.changed)})
    return done


def _saved_spec(stack: str | None, record: StackRecord | None) -> StackSpec:
    if not stack:
        raise ResourceNotFound("Name a saved stack or give its spec to check it for drift.")
    if record is None or not record.spec:
        raise ResourceNotFound(
            f"No saved stack {stack!r} (a LoadBalancerStack block of that name); run setup first, "
            "or pass the stack's spec."
        )
    return parse_spec(record.spec)


def _publish(stack: str, result: Plan, what: str) -> None:
    drifted = len(result.drift)
    publish_table(stack, "drift", plan_rows(result),
                  f"{what} of stack {stack}: {drifted} of {len(result.changes)} items drifted")  # fmt: skip


def _announce(event: str, stack: str, result: Plan, *, remediate: bool) -> None:
    """A Prefect event automations can trigger on (notify, open a ticket, run remediation)."""
    emit_event(
        event=event,
        resource={
            "prefect.resource.id": f"kubeflow-alb.stack.{stack}",
            "prefect.resource.name": stack,
            "kubeflow-alb.stack": stack,
        },  # fmt: skip
        payload={"drifted": drift_rows(result), "remediate": remediate},
    )


def _changed(changed: bool) -> str:
    return "changed" if changed else "already as declared"
