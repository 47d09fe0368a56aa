"""The cleanup flow against the sandbox: nothing of the stack is left, and nothing else is touched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec
from core.state import Kind

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
STACK_LABEL = "kubeflow-alb/stack"
SUBDOMAIN = "platform.example.com."
HELM = ("Deployment", "IngressClass")


@pytest.fixture
def spec() -> StackSpec:
    return load_spec(EXAMPLE.read_text())


def _subnet_tags(world: Any) -> dict[str, dict[str, str]]:
    subnets = world.aws.client("ec2").describe_subnets(
        SubnetIds=[*world.seeded.public_subnet_ids, *world.seeded.private_subnet_ids]
    )["Subnets"]
    return {s["SubnetId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])} for s in subnets}


def _root_records(world: Any) -> set[tuple[str, str]]:
    found = world.aws.client("route53").list_resource_record_sets(
        HostedZoneId=world.seeded.root_zone_id
    )["ResourceRecordSets"]
    return {(record["Name"], record["Type"]) for record in found}


def _certificates(world: Any) -> set[str]:
    found = world.aws.client("acm").list_certificates()["CertificateSummaryList"]
    return {item["CertificateArn"] for item in found}


def _ours_in_kubernetes(world: Any, stack: str) -> list[str]:
    """Objects in the cluster labelled for the stack (the controller's kinds and the Ingress)."""
    from tasks.k8s.cleanup import controller_manifests

    store, found = world.kube.store, []
    wanted = [*controller_manifests(), {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "metadata": {"name": "istio-ingress", "namespace": "istio-system"}}]  # fmt: skip
    for obj in wanted:
        meta = obj["metadata"]
        live = store.find(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if live is not None and (live["metadata"].get("labels") or {}).get(STACK_LABEL) == stack:
            found.append(f"{obj['kind']} {meta['name']}")
    ingress = store.find("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")
    if ingress is not None:
        found.append("Ingress istio-ingress (any owner)")
    return found


def _assert_nothing_left(
    world: Any,
    spec: StackSpec,
    *,
    subnet_tags: dict[str, dict[str, str]],
    root_records: set[tuple[str, str]],
    certificates: set[str],
    security_groups: set[str],
    extra_groups: tuple[str, ...] = (),
) -> None:
    """The stack's footprint in AWS and Kubernetes is gone, and what was there before is not."""
    aws = world.aws.client
    zones = [z["Name"] for z in aws("route53").list_hosted_zones()["HostedZones"]]
    assert SUBDOMAIN not in zones
    assert _root_records(world) == root_records  # no NS delegation, no validation record of ours
    assert _certificates(world) == certificates
    assert _subnet_tags(world) == subnet_tags
    assert aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    policies = aws("iam").list_policies(Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in policies if p["PolicyName"].startswith("kfalb-")] == []
    roles = aws("iam").list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith("kfalb-")] == []
    assert aws("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert aws("elbv2").describe_target_groups()["TargetGroups"] == []
    assert _security_groups(world) - security_groups == set(extra_groups)
    assert _ours_in_kubernetes(world, spec.name) == []


def _security_groups(world: Any) -> set[str]:
    groups = world.aws.client("ec2").describe_security_groups()["SecurityGroups"]
    return {group["GroupId"] for group in groups}


def _baseline(world: Any) -> dict[str, Any]:
    return {
        "security_groups": _security_groups(world),
        "subnet_tags": _subnet_tags(world),
        "root_records": _root_records(world),
        "certificates": _certificates(world),
    }


def test_setup_then_cleanup_leaves_nothing_and_touches_nothing_else(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from prefect.artifacts import Artifact

    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.stack_block import load_record

    world = sandbox_world()
    acm, route53 = world.aws.client("acm"), world.aws.client("route53")
    # Pre-existing: a certificate of the root domain, validated by the CNAME that ACM shares
    # with the stack's *.example.com certificate, and a role tag on one public subnet.
    other = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS")
    options = acm.describe_certificate(CertificateArn=other["CertificateArn"])["Certificate"]
    shared = options["DomainValidationOptions"][0]["ResourceRecord"]
    route53.change_resource_record_sets(
        HostedZoneId=world.seeded.root_zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": shared["Name"], "Type": "CNAME", "TTL": 300,
            "ResourceRecords": [{"Value": shared["Value"]}]}}]},
    )  # fmt: skip
    tagged = world.seeded.public_subnet_ids[0]
    world.aws.client("ec2").create_tags(
        Resources=[tagged], Tags=[{"Key": "kubernetes.io/role/elb", "Value": "1"}]
    )
    before = _baseline(world)

    setup_load_balancer(spec=spec)
    marked = _subnet_tags(world)[world.seeded.private_subnet_ids[0]]
    assert marked[f"kubeflow-alb/added-tags/{spec.name}"] == (
        "kubernetes.io/cluster/kubeflow,kubernetes.io/role/internal-elb"
    )
    assert _ours_in_kubernetes(world, spec.name) != []

    leftovers = cleanup_load_balancer(stack=spec.name)

    assert leftovers
    assert not any(leftovers.values())
    _assert_nothing_left(world, spec, **before)
    assert load_record(spec.name) is None
    report = Artifact.get(f"{spec.name}-leftovers")
    assert report is not None
    assert "nothing left" in str(report.data)
    assert "still validates " + other["CertificateArn"] in str(report.data)

    calls = api_calls()
    assert not any(cleanup_load_balancer(spec=spec).values())
    assert api_calls().since(calls).mutating_calls() == ()


def test_a_preinstalled_controller_stays_and_a_dead_one_leaves_no_alb_behind(
    sandbox_world: Callable[..., Any], spec: StackSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.artifacts import Artifact

    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(controller="preinstalled")
    before = _baseline(world)
    setup_load_balancer(spec=spec)
    assert world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    # The controller stops working: nothing will ever process the Ingress's finalizer.
    world.controller.stop()
    monkeypatch.setenv("KFALB_CLEANUP_TIMEOUT_SECONDS", "1")

    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    # The Helm controller's backend security group is its own: reported, left alone.
    (backend,) = _security_groups(world) - before["security_groups"]
    _assert_nothing_left(world, spec, **before, extra_groups=(backend,))
    report = Artifact.get(f"{spec.name}-leftovers")
    assert report is not None
    assert f"**load-balancer** {backend}: the ALB controller's shared backend" in str(report.data)
    store = world.kube.store
    assert store.find("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    assert store.find("networking.k8s.io/v1", "IngressClass", "alb") is not None


def test_without_our_controller_and_with_a_conflict_cleanup_goes_on_then_resumes(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    """Our controller's Deployment is gone, its webhooks still intercept Ingress writes with no
    endpoints behind them; and someone attached the stack's IAM policy to a role of theirs, so
    the policy cannot be deleted yet. Everything that does not depend on it still goes."""
    from prefect.artifacts import Artifact

    from core.cleanup import CleanupIncomplete
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.stack_block import load_record

    world = sandbox_world()
    before = _baseline(world)
    setup_load_balancer(spec=spec)
    world.kube.store.delete("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    iam = world.aws.client("iam")
    (policy,) = [p for p in iam.list_policies(Scope="Local")["Policies"]
                 if p["PolicyName"].startswith("kfalb-")]  # fmt: skip
    iam.create_role(RoleName="someone-else", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="someone-else", PolicyArn=policy["Arn"])

    with pytest.raises(CleanupIncomplete) as error:
        cleanup_load_balancer(stack=spec.name)

    message = str(error.value)
    assert f"left resources behind: iam-policy: {policy['Arn']}." in message
    assert "iam-policy failed: " in message
    assert "still attached to role someone-else" in message
    # Independent of the policy, all of these went: the OIDC provider, certificates, the zone
    # and its delegation, the validation records, the subnet tags; the ALB went without its
    # controller.
    aws = world.aws.client
    assert aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert _certificates(world) == before["certificates"]
    assert not _zone_exists(world)
    assert _root_records(world) == before["root_records"]
    assert _subnet_tags(world) == before["subnet_tags"]
    assert _roles(world) == []
    assert aws("elbv2").describe_load_balancers()["LoadBalancers"] == []
    record = load_record(spec.name)
    assert record is not None
    assert record.phase == "cleaning-up"
    assert [item.id for item in record.resources if item.owned] == [policy["Arn"]]
    report = Artifact.get(f"{spec.name}-leftovers")
    assert report is not None
    text = str(report.data)
    assert f"**iam-policy** {policy['Arn']}" in text
    assert "## Why it is left" in text
    assert "- **iam-policy**: delete failed: " in text

    iam.detach_role_policy(RoleName="someone-else", PolicyArn=policy["Arn"])
    iam.delete_role(RoleName="someone-else")
    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    _assert_nothing_left(world, spec, **before)
    assert load_record(spec.name) is None


def test_a_stack_without_block_or_spec_is_an_error(prefect_server: None) -> None:
    from core.errors import ResourceNotFound
    from flows.cleanup_load_balancer import cleanup_load_balancer

    with pytest.raises(ResourceNotFound, match="No saved block for stack 'nothing-here'"):
        cleanup_load_balancer(stack="nothing-here")


def test_cleanup_without_the_block_finds_everything_by_its_marks(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.stack_block import delete_record

    world = sandbox_world()
    before = _baseline(world)
    setup_load_balancer(spec=spec)
    assert delete_record(spec.name)

    leftovers = cleanup_load_balancer(spec=spec)

    assert not any(leftovers.values())
    _assert_nothing_left(world, spec, **before)


def _zone_exists(world: Any) -> bool:
    zones = world.aws.client("route53").list_hosted_zones()["HostedZones"]
    return SUBDOMAIN in [zone["Name"] for zone in zones]


def _roles(world: Any) -> list[str]:
    roles = world.aws.client("iam").list_roles()["Roles"]
    return [role["RoleName"] for role in roles if role["RoleName"].startswith("kfalb-")]


def _ingress(world: Any) -> Any:
    return world.kube.store.find("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")


#: Setup crashes right after one of its tasks did its work (before the flow records the result),
#: and what that left to clean up.
CRASHES: dict[str, tuple[Kind, Callable[[Any], bool]]] = {
    "after-zone": (Kind.HOSTED_ZONE, _zone_exists),
    "after-certificates": (Kind.CERTIFICATE, lambda w: bool(_certificates(w))),
    "after-iam": (Kind.IAM_ROLE, lambda w: bool(_roles(w))),
    "after-controller": (Kind.CONTROLLER, lambda w: bool(_ours_in_kubernetes(w, "platform-example-com"))),
    "after-ingress": (Kind.INGRESS, lambda w: _ingress(w) is not None),
}  # fmt: skip


@pytest.mark.parametrize("crash", list(CRASHES))
def test_cleanup_after_an_interrupted_setup_leaves_nothing(
    sandbox_world: Callable[..., Any],
    spec: StackSpec,
    monkeypatch: pytest.MonkeyPatch,
    crash: str,
) -> None:
    import dataclasses

    import flows.setup_load_balancer as setup_flow
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from tasks.kinds import VERBS

    step, evidence = CRASHES[crash]
    verbs = VERBS[step]
    original = verbs.ensure
    assert original is not None

    def crashing(*args: Any) -> None:
        original(*args)
        raise RuntimeError(f"setup interrupted after ensuring {step.value}")

    # The walk runs every kind's ensure from the registry.
    monkeypatch.setitem(VERBS, step, dataclasses.replace(verbs, ensure=crashing))  # type: ignore[arg-type]
    world = sandbox_world()
    before = _baseline(world)
    with pytest.raises(Exception, match="setup interrupted|UnfinishedRun|PENDING"):
        setup_flow.setup_load_balancer(spec=spec)
    assert evidence(world), f"setup did not get to {crash}"

    # The spec too: setup may have crashed before it first saved the stack's block.
    leftovers = cleanup_load_balancer(stack=spec.name, spec=spec)

    assert not any(leftovers.values())
    _assert_nothing_left(world, spec, **before)
