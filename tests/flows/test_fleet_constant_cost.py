"""A stack's drift check costs the same number of AWS calls however many stacks share its
account: its items are read by the ids its record holds; the search by marks (a missing or
stale record) still finds only the stack's own items."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.spec import load_spec
from core.state import Kind, StackRecord, StackResource

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/fleet_footprint.py

from fleet_footprint import seed_footprints  # noqa: E402


def _drift_calls(stack: str) -> Counter[str]:
    """The AWS calls of one drift check of the stack, by operation (botocore's before-call
    event, counted per stack)."""
    from flows.check_drift import check_drift
    from tasks.aws.clients import api_calls

    before = api_calls(scope=stack)
    assert check_drift(stack=stack)["status"] == "ok"
    done = api_calls(scope=stack).since(before)
    assert done.mutating == 0
    return Counter({f"{call.service}:{call.operation}": call.count for call in done.calls})


def _stale(record: StackRecord, world: Any) -> StackRecord:
    """The record with ids of another stack's items: footprint-0's certificates, zone, ALB."""
    aws = world.aws
    acm, route53 = aws.client("acm"), aws.client("route53")
    theirs = {
        Kind.CERTIFICATE: [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]
                           if "footprint-0" in c["DomainName"] or c["DomainName"] == "*.example.com"],
        Kind.HOSTED_ZONE: [z["Id"].rsplit("/", 1)[-1] for z in route53.list_hosted_zones()["HostedZones"]
                           if z["Name"].startswith("footprint-0.")],
        Kind.LOAD_BALANCER: [lb["LoadBalancerArn"] for lb in aws.client("elbv2").describe_load_balancers()[
            "LoadBalancers"] if lb["LoadBalancerName"] == "k8s-footprint-0"],
    }  # fmt: skip
    mine = {item.id for kind in theirs for item in record.of_kind(kind)}
    others = [arn for arn in theirs[Kind.CERTIFICATE] if arn not in mine]
    swapped: list[StackResource] = []
    for item in record.resources:
        if item.kind in theirs:
            pool = others if item.kind is Kind.CERTIFICATE else theirs[item.kind]
            item = item.model_copy(update={"id": pool.pop(0) if item.kind is Kind.CERTIFICATE
                                           else pool[0]})  # fmt: skip
        swapped.append(item)
    return record.model_copy(update={"resources": tuple(swapped)})


def _found(seen: Any) -> tuple[Any, ...]:
    certificates = sorted(state.arn for state in seen.certificates.values())
    balancer = seen.load_balancer.arn if seen.load_balancer else None
    return (certificates, seen.zone.zone_id if seen.zone else None, balancer)


def test_a_drift_checks_calls_do_not_grow_with_the_stacks_of_its_account(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import AwsContext
    from tasks.aws.eks import observe_cluster
    from tasks.k8s.clients import KubeTarget
    from tasks.observe import look_at
    from tasks.stack_block import load_record

    world = sandbox_world(controller="preinstalled")
    spec = load_spec(EXAMPLE.read_text())
    setup_load_balancer(spec=spec)
    alone = _drift_calls(spec.name)
    assert sum(alone.values()) <= 30, alone

    seed_footprints(world, count=30, root=spec.root)  # 30 more stacks' zones, certificates, ALBs
    assert _drift_calls(spec.name) == alone

    # A stale record (ids of another stack's items) or none: the search by the stack's marks
    # finds the stack's own items, never the other stack's it was pointed at.
    record = load_record(spec.name)
    assert record is not None
    ctx = AwsContext(region=spec.region)
    cluster = observe_cluster.fn(ctx, spec.cluster.name)
    target = KubeTarget.kubeconfig()
    ours = _found(look_at(ctx, spec, cluster, target, record=record))
    assert len(ours[0]) == 2
    assert None not in ours
    for other in (_stale(record, world), None):
        assert _found(look_at(ctx, spec, cluster, target, record=other)) == ours
