"""Ownership preflight: a foreign policy, role, Ingress or record is found read-only, up front."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prefect import flow

from core import naming
from core.desired import policy_name, role_name
from core.errors import OwnershipError
from core.owners import conflicts, refuse
from core.spec import StackSpec, load_spec
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.eks import observe_cluster
from tasks.k8s.clients import KubeTarget
from tasks.observe import observe_stack

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
SPEC = load_spec(EXAMPLE.read_text())
STACK = SPEC.name
FOREIGN_INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "istio-ingress", "namespace": "istio-system", "labels": {"team": "x"}},
    "spec": {
        "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "istio-ingressgateway", "port": {"number": 80}}}}]}}]
    },
}  # fmt: skip


@flow
def _preflight(spec: StackSpec, *, recorded: tuple[str, ...] = ()) -> None:
    """What setup does before it makes anything: observe the stack, refuse what is not ours."""
    ctx = AwsContext(region=spec.region)
    seen = observe_stack(ctx, spec, observe_cluster.fn(ctx, spec.cluster.name),
                         KubeTarget.kubeconfig())  # fmt: skip
    refuse(spec, conflicts(spec, seen, recorded=recorded))


def _foreign_policy(world: Any) -> str:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*",
                                                        "Resource": "*"}]}  # fmt: skip
    made = world.aws.client("iam").create_policy(
        PolicyName=policy_name(SPEC), PolicyDocument=json.dumps(document)
    )
    return str(made["Policy"]["Arn"])


def _foreign_role(world: Any) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}  # fmt: skip
    made = world.aws.client("iam").create_role(
        RoleName=role_name(SPEC),
        AssumeRolePolicyDocument=json.dumps(trust),
        Tags=[{"Key": naming.STACK_TAG, "Value": STACK}],  # half a mark is not ours
    )
    return str(made["Role"]["Arn"])


def _foreign_ingress(world: Any) -> str:
    world.kube.store.create(json.loads(json.dumps(FOREIGN_INGRESS)))
    return "Ingress istio-system/istio-ingress"


def _foreign_zone_with_record(world: Any, target: str = "web.elsewhere.example.net") -> str:
    route53 = world.aws.client("route53")
    zone = route53.create_hosted_zone(Name=SPEC.subdomain, CallerReference="someone-else")
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": f"*.{SPEC.subdomain}", "Type": "CNAME",
                                                   "TTL": 60, "ResourceRecords": [{"Value": target}]}}]})  # fmt: skip
    return str(zone_id)


CONFLICTS: list[tuple[Callable[[Any], str], str]] = [
    (_foreign_policy, r"IAM policy {} exists without the tags of a kubeflow-alb stack"),
    (_foreign_role, r"IAM role {} exists without the tags of a kubeflow-alb stack"),
    (_foreign_ingress, r"{} belongs to something that is not a kubeflow-alb stack"),
    (
        _foreign_zone_with_record,
        r"Record \*\.platform\.example\.com CNAME in hosted zone {} .*points at "
        r"web\.elsewhere\.example\.net, not at a load balancer of this stack",
    ),
]


@pytest.mark.parametrize(
    ("make", "message"), CONFLICTS, ids=[m.__name__.strip("_") for m, _ in CONFLICTS]
)
def test_a_foreign_resource_is_refused_before_anything_is_created(
    sandbox_world: Callable[..., Any], make: Callable[[Any], str], message: str
) -> None:
    world = sandbox_world()
    name = make(world)
    before = api_calls()

    with pytest.raises(OwnershipError, match=message.format(re.escape(name))) as caught:
        _preflight(SPEC)
    assert caught.value.message.startswith("Setup stopped before creating anything: ")
    assert api_calls().since(before).mutating_calls() == ()


def test_a_clean_world_and_our_own_things_pass(sandbox_world: Callable[..., Any]) -> None:
    world = sandbox_world()
    iam = world.aws.client("iam")
    iam.create_policy(PolicyName=policy_name(SPEC), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*",
                                                 "Resource": "*"}]}),
        Tags=[{"Key": k, "Value": v} for k, v in SPEC.tags.items()])  # fmt: skip
    zone_id = _foreign_zone_with_record(world)
    before = api_calls()

    # The record was written by an earlier run of this stack (its block says so): ours.
    _preflight(SPEC, recorded=(f"{zone_id}/*.{SPEC.subdomain}/CNAME",))
    assert api_calls().since(before).mutating_calls() == ()


def test_iam_is_not_checked_when_setup_will_not_install_the_controller(
    sandbox_world: Callable[..., Any],
) -> None:
    world = sandbox_world(controller="preinstalled")  # Helm's: setup uses it, makes no IAM
    _foreign_policy(world)
    _preflight(SPEC)  # the policy is not ours, but setup will not touch it


def test_every_conflict_is_listed_at_once(sandbox_world: Callable[..., Any]) -> None:
    world = sandbox_world()
    _foreign_policy(world)
    _foreign_ingress(world)
    with pytest.raises(OwnershipError) as caught:
        _preflight(SPEC)
    lines = caught.value.message.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("  IAM policy ")
    assert lines[2].startswith("  Ingress istio-system/istio-ingress ")
