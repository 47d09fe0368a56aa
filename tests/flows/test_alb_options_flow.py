"""Every ALB option on the sandbox: setup puts each on the ALB (or in DNS), drift notices each
removal, remediation puts it back through the Ingress, cleanup removes the AAAA alias too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec
from tests.tamper import find_alb

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
SUB = "platform.example.com"
ALB = "load-balancer ALB of Ingress istio-system/istio-ingress"
CIDRS = ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]


def _web_acl(world: Any) -> str:
    answer = world.aws.client("wafv2").create_web_acl(
        Name="kubeflow", Scope="REGIONAL", DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                          "MetricName": "kubeflow"},
    )  # fmt: skip
    return str(answer["Summary"]["ARN"])


def _spec(waf: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = "alb-options"
    data["kubeflow"]["alb"].update(
        sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06", wafAclArn=waf,
        accessLogs={"bucket": "kubeflow-alb-logs", "prefix": "platform"},
        inboundCidrs=CIDRS, ipAddressType="dualstack",
    )  # fmt: skip
    return StackSpec.model_validate(data)


def _zone_records(world: Any) -> dict[str, dict[str, Any]]:
    route53 = world.aws.client("route53")
    (zone,) = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{SUB}."]
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    return {r["Type"]: r for r in records if r["Name"] in (f"*.{SUB}.", f"\\052.{SUB}.")}


def _inbound(world: Any, balancer: dict[str, Any]) -> set[str]:
    groups = world.aws.client("ec2").describe_security_groups(GroupIds=balancer["SecurityGroups"])
    return {
        source
        for group in groups["SecurityGroups"]
        if any(t["Value"] == "ManagedLBSecurityGroup" for t in group.get("Tags", []))
        for rule in group["IpPermissions"]
        for source in [
            *(r["CidrIp"] for r in rule.get("IpRanges", [])),
            *(r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])),
        ]  # fmt: skip
    }


def test_each_alb_option_is_set_up_drift_checked_and_repaired(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.errors import DriftDetected
    from flows.check_drift import check_drift, observe_plan
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    waf = _web_acl(world)
    spec = _spec(waf)
    setup_load_balancer(spec=spec)

    elbv2, wafv2 = world.aws.client("elbv2"), world.aws.client("wafv2")
    arn = find_alb(world, spec.name)
    (balancer,) = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    assert balancer["IpAddressType"] == "dualstack"
    attributes = {a["Key"]: a["Value"] for a in
                  elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}  # fmt: skip
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == "kubeflow-alb-logs"
    assert attributes["access_logs.s3.prefix"] == "platform"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"  # kept
    assert wafv2.get_web_acl_for_resource(ResourceArn=arn)["WebACL"]["ARN"] == waf
    assert _inbound(world, balancer) == set(CIDRS)  # not 0.0.0.0/0 any more
    listeners = elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
    (https,) = [item for item in listeners if item["Protocol"] == "HTTPS"]
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    records = _zone_records(world)
    assert records["A"]["AliasTarget"] == records["AAAA"]["AliasTarget"]
    assert observe_plan(spec)[1].converged

    # Tamper with each option out of band: drift names each field.
    wafv2.disassociate_web_acl(ResourceArn=arn)
    elbv2.set_ip_address_type(LoadBalancerArn=arn, IpAddressType="ipv4")
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "access_logs.s3.enabled", "Value": "false"}]
    )
    managed = next(g for g in world.aws.client("ec2").describe_security_groups(
        GroupIds=balancer["SecurityGroups"])["SecurityGroups"]
        if any(t["Value"] == "ManagedLBSecurityGroup" for t in g.get("Tags", [])))  # fmt: skip
    world.aws.client("ec2").revoke_security_group_ingress(GroupId=managed["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ])  # fmt: skip
    route53 = world.aws.client("route53")
    zone_id = next(z["Id"] for z in route53.list_hosted_zones()["HostedZones"]
                   if z["Name"] == f"{SUB}.")  # fmt: skip
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": records["AAAA"]}]})  # fmt: skip
    with pytest.raises(DriftDetected) as raised:
        check_drift(stack=spec.name)
    drifted = set(raised.value.items)
    assert f"dns-record *.{SUB} AAAA (missing)" in drifted
    (alb_drift,) = [item for item in drifted if item.startswith(ALB)]
    for field in (
        "waf-acl",
        "ip-address-type",
        "attribute access_logs.s3.enabled",
        "inbound-cidrs",
    ):
        assert field in alb_drift

    repaired = check_drift(stack=spec.name, remediate=True)
    assert repaired["status"] == "repaired"
    assert wafv2.get_web_acl_for_resource(ResourceArn=arn)["WebACL"]["ARN"] == waf
    assert _inbound(world, balancer) == set(CIDRS)
    assert observe_plan(spec)[1].converged

    leftovers = cleanup_load_balancer(stack=spec.name)
    assert not any(leftovers.values()), leftovers
    assert not any(z["Name"] == f"{SUB}." for z in route53.list_hosted_zones()["HostedZones"])
