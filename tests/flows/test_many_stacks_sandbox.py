"""Several stacks on one cluster, against the sandbox: a stack that would take another one's
Ingress fails before anything is created; two stacks in one IngressGroup share one ALB; stacks
share the controller and its IAM by reference, and a stack of the previous version migrates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


def _spec(name: str, subdomain: str, **stack: Any) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name=name, **stack)
    data["route53"]["subDomain"]["name"] = subdomain
    return StackSpec.model_validate(data)


def _zones(world: Any) -> set[str]:
    zones = world.aws.client("route53").list_hosted_zones()["HostedZones"]
    return {zone["Name"].rstrip(".") for zone in zones}


def _kube_version(world: Any) -> str:
    return str(world.kube.store.resource_version)


def _dashboard_answers(spec: StackSpec) -> None:
    from core.settings import get_settings
    from tasks.https import probe

    answer = probe(spec.dashboard_host, get_settings())
    assert answer.ok, answer.describe()


def _aws_snapshot(world: Any) -> dict[str, Any]:
    """What the stacks touch in AWS: zones and records, certificates, IAM, subnet tags, ELBv2
    and security groups."""
    aws = world.aws
    route53 = aws.client("route53")
    zones = {}
    for zone in route53.list_hosted_zones()["HostedZones"]:
        records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        zones[zone["Name"]] = sorted(
            (r["Name"], r["Type"], str(sorted(v["Value"] for v in r.get("ResourceRecords", []))))
            for r in records
        )
    iam = aws.client("iam")
    ec2 = aws.client("ec2")
    elbv2 = aws.client("elbv2")
    return {
        "zones": zones,
        "certificates": sorted(
            c["DomainName"] for c in aws.client("acm").list_certificates()["CertificateSummaryList"]
        ),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "policies": sorted(p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]),
        "oidc": iam.list_open_id_connect_providers()["OpenIDConnectProviderList"],
        "subnets": {
            s["SubnetId"]: sorted((t["Key"], t["Value"]) for t in s.get("Tags", []))
            for s in ec2.describe_subnets()["Subnets"]
        },
        "security_groups": sorted(
            g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]
        ),
        "load_balancers": elbv2.describe_load_balancers()["LoadBalancers"],
        "target_groups": elbv2.describe_target_groups()["TargetGroups"],
    }


def _kube_snapshot(world: Any) -> dict[tuple[str, str | None, str], Any]:
    """Every object of the kinds the stacks touch, with its labels, annotations and spec."""
    kinds = [("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "IngressClass"),
             ("apps/v1", "Deployment"), ("v1", "Secret"), ("v1", "ServiceAccount"),
             ("v1", "Service"), ("v1", "Namespace")]  # fmt: skip
    return {
        (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]): (
            obj["metadata"].get("labels"),
            obj["metadata"].get("annotations"),
            obj.get("spec"),
        )
        for kind in kinds
        for obj in world.kube.store.list(*kind)
    }


def test_two_stacks_in_one_ingress_group_share_one_alb_and_the_last_cleanup_restores_the_world(
    sandbox_world: Callable[..., Any],
) -> None:
    """One world for the whole life of two stacks in one IngressGroup: a third stack that would
    take the first one's Ingress fails before creating anything; the two share one ALB and both
    check clean; cleanup of the first leaves the second working, the last the world as before."""
    from core.errors import PreflightError
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world = sandbox_world(controller="preinstalled")
    aws_before, kube_before = _aws_snapshot(world), _kube_snapshot(world)
    first = _spec("stack-a", "platform.example.com", ingressGroup="kubeflow")
    second = _spec("stack-b", "team2.example.com", ingressName="team2", ingressGroup="kubeflow")
    one = setup_load_balancer(spec=first)

    taking = _spec("stack-c", "team3.example.com")  # the default Ingress name: stack-a's
    zones, version, calls = _zones(world), _kube_version(world), api_calls()
    with pytest.raises(PreflightError) as raised:
        setup_load_balancer(spec=taking)
    message = raised.value.message
    assert "Ingress istio-system/istio-ingress belongs to kubeflow-alb stack 'stack-a'" in message
    assert "nothing was created" in message
    assert api_calls().since(calls).mutating_calls() == ()
    assert _zones(world) == zones  # no zone for team3.example.com
    assert "team3.example.com" not in zones
    assert _kube_version(world) == version  # no write to the Kubernetes API either

    two = setup_load_balancer(spec=second)
    (balancer,) = world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert one["load_balancer"] == two["load_balancer"] == balancer["LoadBalancerArn"]
    store = world.kube.store
    for name in ("istio-ingress", "team2"):
        ingress = store.get("networking.k8s.io/v1", "Ingress", name, "istio-system")
        annotations = ingress["metadata"]["annotations"]
        assert annotations["alb.ingress.kubernetes.io/group.name"] == "kubeflow"
    _dashboard_answers(first)
    _dashboard_answers(second)
    # Each stack compares only its share of the shared ALB: both are clean.
    assert check_drift(stack=first.name)["status"] == "ok"
    assert check_drift(stack=second.name)["status"] == "ok"
    # stack-b found the subnet tags stack-a added: it holds them too, by its own marker.
    subnets = world.aws.client("ec2").describe_subnets()["Subnets"]
    markers = {t["Key"] for s in subnets for t in s.get("Tags", []) if "added-tags" in t["Key"]}
    assert markers == {"kubeflow-alb/added-tags/stack-a", "kubeflow-alb/added-tags/stack-b"}

    assert not any(cleanup_load_balancer(stack=first.name).values())
    _dashboard_answers(second)  # the shared ALB still serves stack-b, on the subnets it needs
    assert check_drift(stack=second.name)["status"] == "ok"

    assert not any(cleanup_load_balancer(stack=second.name).values())
    assert _aws_snapshot(world) == aws_before
    assert _kube_snapshot(world) == kube_before


def _iam_users(world: Any) -> dict[str, list[str]]:
    """The user marks on the cluster's OIDC provider, controller policy and role."""
    iam = world.aws.client("iam")
    found: dict[str, list[str]] = {}
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=provider["Arn"])
        found["oidc"] = sorted(t["Key"] for t in tags["Tags"] if "/user." in t["Key"])
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        tags = iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"]
        found[policy["PolicyName"]] = sorted(t["Key"] for t in tags if "/user." in t["Key"])
    for role in iam.list_roles()["Roles"]:
        if not role["RoleName"].startswith("kfalb-"):
            continue  # the cluster's own roles
        tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
        found[role["RoleName"]] = sorted(t["Key"] for t in tags if "/user." in t["Key"])
    return found


def _controller_users(world: Any) -> list[str]:
    deployment = world.kube.store.get(
        "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
    )
    annotations = deployment["metadata"].get("annotations") or {}
    return sorted(key for key in annotations if key.startswith("kubeflow-alb/user."))


def test_two_stacks_share_the_flow_installed_controller_and_its_iam_by_reference(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.desired import policy_name, role_name
    from core.plan_output import table_rows
    from flows.check_drift import check_drift, observe_plan
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()  # no controller: the first stack installs it
    aws_before, kube_before = _aws_snapshot(world), _kube_snapshot(world)
    first = _spec("stack-a", "platform.example.com")
    second = _spec("stack-b", "team2.example.com", ingressName="team2")
    setup_load_balancer(spec=first)
    setup_load_balancer(spec=second)  # adopts the controller, its role, policy and the provider

    marks = ["kubeflow-alb/user.stack-a", "kubeflow-alb/user.stack-b"]
    policy, role = policy_name(first), role_name(first)
    assert (policy, role) == (policy_name(second), role_name(second))  # one per cluster
    assert _iam_users(world) == {"oidc": marks, policy: marks, role: marks}
    assert _controller_users(world) == marks
    # Drift and plan show the users of each shared item.
    rows = {row["item"]: row for row in table_rows(observe_plan(second, None)[1], width=200)}
    for item in (f"iam-role {role}", f"iam-policy {policy}", "controller ALB controller"):
        assert (rows[item]["status"], rows[item]["field"]) == ("ok", "users"), rows
        assert rows[item]["found"] == "stack-a,stack-b", rows
    assert check_drift(stack=first.name)["status"] == "ok"
    assert check_drift(stack=second.name)["status"] == "ok"

    assert not any(cleanup_load_balancer(stack=first.name).values())
    # stack-b still works on the controller, role, policy and provider stack-a made.
    _dashboard_answers(second)
    assert check_drift(stack=second.name)["status"] == "ok"
    only_b = ["kubeflow-alb/user.stack-b"]
    assert _iam_users(world) == {"oidc": only_b, policy: only_b, role: only_b}
    assert _controller_users(world) == only_b

    assert not any(cleanup_load_balancer(stack=second.name).values())
    assert _aws_snapshot(world) == aws_before
    assert _kube_snapshot(world) == kube_before


def _as_previous_version(world: Any, spec: StackSpec) -> None:
    """Turn a stack set up now into what the previous version left: its own role and policy
    (named by the stack, its ownership tags only), the controller's service account on that role,
    no user marks anywhere, no per-cluster role or policy."""
    from core import naming, sharing
    from core.desired import policy_name, role_name

    iam = world.aws.client("iam")
    shared_policy = next(p for p in iam.list_policies(Scope="Local")["Policies"]
                         if p["PolicyName"] == policy_name(spec))  # fmt: skip
    document = iam.get_policy_version(
        PolicyArn=shared_policy["Arn"], VersionId=shared_policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    trust = iam.get_role(RoleName=role_name(spec))["Role"]["AssumeRolePolicyDocument"]
    tags = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    old_policy = iam.create_policy(PolicyName=naming.policy_name(spec.name), Tags=tags,
                                   PolicyDocument=json.dumps(document))["Policy"]["Arn"]  # fmt: skip
    old_role = iam.create_role(RoleName=naming.role_name(spec.name), Tags=tags,
                               AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]  # fmt: skip
    iam.attach_role_policy(RoleName=naming.role_name(spec.name), PolicyArn=old_policy)
    iam.detach_role_policy(RoleName=role_name(spec), PolicyArn=shared_policy["Arn"])
    iam.delete_role(RoleName=role_name(spec))
    iam.delete_policy(PolicyArn=shared_policy["Arn"])
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        iam.untag_open_id_connect_provider(
            OpenIDConnectProviderArn=provider["Arn"], TagKeys=[sharing.user_key(spec.name)]
        )
        iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"], Tags=tags)
    store = world.kube.store
    account = store.get("v1", "ServiceAccount", "aws-load-balancer-controller", "kube-system")
    account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = old_role
    store.update(account)
    deployment = store.get("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    deployment["metadata"]["annotations"].pop(sharing.user_key(spec.name))
    store.update(deployment)


def test_a_stack_of_the_previous_version_is_migrated_to_the_per_cluster_role_by_a_second_stack(
    sandbox_world: Callable[..., Any],
) -> None:
    from core import naming
    from core.desired import role_name
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    aws_before, kube_before = _aws_snapshot(world), _kube_snapshot(world)
    first = _spec("stack-a", "platform.example.com")
    second = _spec("stack-b", "team2.example.com", ingressName="team2")
    setup_load_balancer(spec=first)
    _as_previous_version(world, first)

    setup_load_balancer(spec=second)
    # The controller now runs on the per-cluster role, which both stacks hold; stack-a's hold of
    # the controller and the OIDC provider became marks of its own.
    account = world.kube.store.get(
        "v1", "ServiceAccount", "aws-load-balancer-controller", "kube-system"
    )
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        f":role/{role_name(first)}"
    )
    marks = ["kubeflow-alb/user.stack-a", "kubeflow-alb/user.stack-b"]
    users = _iam_users(world)
    assert users[role_name(first)] == users["oidc"] == marks
    assert _controller_users(world) == marks
    assert naming.role_name(first.name) in users  # the old role: unused, left for stack-a's cleanup
    _dashboard_answers(first)
    assert check_drift(stack=first.name)["status"] == "ok"

    assert not any(cleanup_load_balancer(stack=first.name).values())  # the old role goes too
    assert naming.role_name(first.name) not in _iam_users(world)
    _dashboard_answers(second)
    assert check_drift(stack=second.name)["status"] == "ok"
    assert not any(cleanup_load_balancer(stack=second.name).values())
    assert _aws_snapshot(world) == aws_before
    assert _kube_snapshot(world) == kube_before


def test_a_validation_record_released_by_another_certificate_during_cleanup_goes_too(
    sandbox_world: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another stack's cleanup racing this one: its certificate, which shares the root domain's
    validation record, goes after this cleanup kept the record for it. This cleanup's final
    look finds the record unneeded and still there, and removes it in one more pass (two
    cleanups at once each left it to the other, then one reported it as left behind)."""
    from dataclasses import replace

    import tasks.kinds as kinds
    from core.state import Kind
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    spec = _spec("stack-a", "platform.example.com")
    setup_load_balancer(spec=spec)
    acm, route53 = world.aws.client("acm"), world.aws.client("route53")
    other = acm.request_certificate(DomainName="*.example.com", ValidationMethod="DNS")
    (option,) = acm.describe_certificate(CertificateArn=other["CertificateArn"])["Certificate"][
        "DomainValidationOptions"
    ]
    shared = option["ResourceRecord"]["Name"]
    root = world.seeded.root_zone_id

    def in_root_zone() -> set[str]:
        sets = route53.list_resource_record_sets(HostedZoneId=root)["ResourceRecordSets"]
        return {record["Name"] for record in sets}

    assert shared in in_root_zone()  # the stack's root certificate validates through it too
    first_pass: list[str] = []
    verbs = kinds.VERBS[Kind.VALIDATION_RECORD]
    assert verbs.delete is not None

    def delete_then_release(env: Any) -> str:
        said = verbs.delete(env)  # type: ignore[misc]
        if not first_pass:  # the other stack's cleanup: its certificate goes, not yet the record
            first_pass.append(said)
            acm.delete_certificate(CertificateArn=other["CertificateArn"])
        return said

    monkeypatch.setitem(kinds.VERBS, Kind.VALIDATION_RECORD,  # type: ignore[index]
                        replace(verbs, delete=delete_then_release))  # fmt: skip
    assert not any(cleanup_load_balancer(stack=spec.name).values())
    assert shared.rstrip(".") not in first_pass[0]  # kept at first: the other certificate used it
    assert shared not in in_root_zone()  # removed by the second pass
