"""A seeded stack (tests/fleet_seed.py) is what a real setup leaves: the same zone, records,
certificates, subnet marks, Ingress, ALB and block, up to its own names and ids; a drift check
of it finds nothing and its cleanup removes it."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/fleet_seed.py

from fleet_seed import Seeder  # noqa: E402

#: Ids that differ from stack to stack by nature (AWS makes them up), with what stands for them.
_IDS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\bZ[0-9A-Z]{12,}\b"), "<zone>"),
    (re.compile(r"_[0-9a-f]{32}\b"), "_<token>"),
    (re.compile(r"\.[a-z]{10}\.acm-validations"), ".<x>.acm-validations"),
    (re.compile(r"k8s-[a-z0-9]+-[a-z0-9]+-[0-9a-f]{10}(-\d+)?"), "<k8s-name>"),
    (re.compile(r"/[0-9a-f]{16}\b"), "/<id>"),
    (re.compile(r"\bsg-[0-9a-f]+"), "<sg>"),
    (re.compile(r"(kubeflow-alb:[a-z0-9-]+:)[0-9a-f]{12}:"), r"\1<digest>:"),
    (re.compile(r"\bns-\d+\.awsdns-(\d+)"), r"ns-<n>.awsdns-\1"),
]


def _spec(index: int) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["route53"]["subDomain"]["name"] = f"team{index}.example.com"
    data["stack"].update(name=f"team-{index}", ingressName=f"kubeflow-{index}")
    return StackSpec.model_validate(data)


def _normalised(value: Any, spec: StackSpec) -> Any:
    text = json.dumps(value, sort_keys=True, default=str)
    for pattern, new in _IDS:
        text = pattern.sub(new, text)
    for old, new in ((spec.subdomain, "<sub>"), (spec.ingress_name, "<ingress>"),
                     (spec.name, "<stack>")):  # fmt: skip
        text = text.replace(old, new)
    return json.loads(text)


def _stack_view(world: Any, spec: StackSpec) -> dict[str, Any]:
    """Everything of the stack in AWS, the cluster and its block, without what AWS makes up
    per resource (ids, times) and with its own names replaced."""
    from core.state import Kind
    from tasks.stack_block import load_record

    aws = world.aws
    route53, acm, elbv2 = aws.client("route53"), aws.client("acm"), aws.client("elbv2")
    record = load_record(spec.name)
    assert record is not None
    view: dict[str, Any] = {"block": {**record.model_dump(mode="json"), "resources": sorted(
        (item.model_dump(mode="json") for item in record.resources),
        key=lambda item: json.dumps(_normalised(item, spec), sort_keys=True))}}  # fmt: skip
    zones = {}
    for zone in route53.list_hosted_zones()["HostedZones"]:
        sets = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        mine = [
            s
            for s in sets
            if spec.subdomain in s["Name"] or zone["Name"].startswith(spec.subdomain)
        ]
        if zone["Name"].startswith(spec.subdomain):
            tags = route53.list_tags_for_resource(ResourceType="hostedzone",
                                                  ResourceId=zone["Id"].rsplit("/", 1)[-1])  # fmt: skip
            zones["own"] = {"zone": {k: zone[k] for k in ("Name", "CallerReference", "Config")},
                            "tags": tags["ResourceTagSet"]["Tags"], "records": mine}  # fmt: skip
        elif zone["Name"] == f"{spec.root}.":
            names = {i.name for i in record.of_kind(Kind.VALIDATION_RECORD)}
            zones["root"] = mine + [s for s in sets if s["Name"].rstrip(".") in names]
    view["zones"] = zones
    view["certificates"] = []
    for arn in (item.id for item in record.of_kind(Kind.CERTIFICATE)):
        found = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        view["certificates"].append({
            "found": {k: found[k] for k in ("DomainName", "SubjectAlternativeNames", "Status",
                                            "DomainValidationOptions", "Type", "KeyAlgorithm")},
            "tags": acm.list_tags_for_certificate(CertificateArn=arn)["Tags"]})  # fmt: skip
    subnets = aws.client("ec2").describe_subnets()["Subnets"]
    view["subnet marks"] = sorted((s["SubnetId"], t["Key"], t["Value"]) for s in subnets
                                  for t in s.get("Tags", []) if spec.name in t["Key"])  # fmt: skip
    (arn,) = [item.id for item in record.of_kind(Kind.LOAD_BALANCER)]
    (balancer,) = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    groups = elbv2.describe_target_groups(LoadBalancerArn=arn)["TargetGroups"]
    view["alb"] = {
        "found": {k: v for k, v in balancer.items() if k not in ("CreatedTime",)},
        "attributes": elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"],
        "tags": elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"],
        "listeners": elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"],
        "target groups": groups,
        "security groups": aws.client("ec2").describe_security_groups(
            GroupIds=balancer["SecurityGroups"])["SecurityGroups"],
    }  # fmt: skip
    ingress = world.kube.store.get("networking.k8s.io/v1", "Ingress", spec.ingress_name,
                                   "istio-system")  # fmt: skip
    meta = ingress["metadata"]
    view["ingress"] = {"labels": meta.get("labels"), "annotations": meta.get("annotations"),
                       "finalizers": meta.get("finalizers"), "spec": ingress["spec"],
                       "status": ingress.get("status")}  # fmt: skip
    return _normalised(view, spec)


def test_a_seeded_stack_is_what_setup_leaves_checks_clean_and_cleans_up(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.stack_block import load_record

    world = sandbox_world(controller="preinstalled")
    template, real, seeded = _spec(0), _spec(1), _spec(2)
    setup_load_balancer(spec=template)
    setup_load_balancer(spec=real)  # a second stack on the cluster, as every seeded one is
    before = _world(world)

    (record,) = Seeder(world, template.name, timeout=30).seed([seeded])
    assert load_record(seeded.name) == record
    assert _stack_view(world, seeded) == _stack_view(world, real)

    assert check_drift(stack=seeded.name)["status"] == "ok"
    assert not any(cleanup_load_balancer(stack=seeded.name).values())
    assert load_record(seeded.name) is None
    assert _world(world) == before


def _world(world: Any) -> dict[str, Any]:
    """The world's AWS and cluster state that stacks touch, and the saved stacks."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_many_stacks_sandbox import _aws_snapshot, _kube_snapshot

    from tasks.stack_block import saved_stacks

    load_balancers = _aws_snapshot(world)
    return {"aws": load_balancers, "kube": _kube_snapshot(world), "stacks": saved_stacks()}
