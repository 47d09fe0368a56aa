"""Migration from the kubeflow-manifests script: a world set up the old way by hand, its
written-back config accepted as is, `import` records it, drift runs on it, and cleanup leaves
what was adopted, or removes what `--take-ownership` tagged."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

SUB, ROOT = "platform.example.com", "example.com"
OLD_ALB = "k8s-istiosys-istioing-0123456789.us-west-2.elb.amazonaws.com"


def _wait(fetch: Callable[[], Any], accept: Callable[[Any], bool], what: str) -> Any:
    from core.waiting import wait_until

    return wait_until(fetch, accept, what=what, timeout=20, interval=0.05)


def set_up_the_old_way(world: Any) -> dict[str, Any]:
    """What setup_load_balancer.py leaves: a zone delegated from the root, a *.<sub> certificate
    validated in it, a randomly named controller policy, kubeflow.<sub> CNAME to the ALB; and the
    config it writes back (kubeflow.alb replaced by serviceAccount and dns)."""
    route53, acm, iam = (world.aws.client(name) for name in ("route53", "acm", "iam"))
    zone = route53.create_hosted_zone(Name=SUB, CallerReference="old-script-1a2b3c")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    servers = zone["DelegationSet"]["NameServers"]

    def upsert(zone: str, name: str, type_: str, values: list[str]) -> None:
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": type_, "TTL": 300,
             "ResourceRecords": [{"Value": value} for value in values]}}]})  # fmt: skip

    upsert(world.seeded.root_zone_id, SUB, "NS", servers)
    arn = acm.request_certificate(DomainName=f"*.{SUB}", ValidationMethod="DNS")["CertificateArn"]
    (option,) = _wait(
        lambda: acm.describe_certificate(CertificateArn=arn)["Certificate"].get(
            "DomainValidationOptions", []),
        lambda found: bool(found and found[0].get("ResourceRecord")), "validation record",
    )  # fmt: skip
    upsert(zone_id, option["ResourceRecord"]["Name"], "CNAME", [option["ResourceRecord"]["Value"]])
    _wait(lambda: acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"],
          lambda status: status == "ISSUED", f"{arn} ISSUED")  # fmt: skip
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:*", "Resource": "*"}]}  # fmt: skip
    policy = iam.create_policy(PolicyName="alb_ingress_controller_kubeflow_x1y2",
                               PolicyDocument=json.dumps(document))["Policy"]["Arn"]  # fmt: skip
    upsert(zone_id, f"kubeflow.{SUB}", "CNAME", [OLD_ALB])
    return {
        "cluster": {"name": "kubeflow", "region": "us-west-2"},
        "route53": {
            "rootDomain": {"name": ROOT, "hostedZoneId": world.seeded.root_zone_id},
            "subDomain": {"name": SUB, "hostedZoneId": zone_id, "certARN": arn},
        },
        "kubeflow": {"alb": {"serviceAccount": {"name": "alb-ingress-controller",
                                                "namespace": "kubeflow", "policyArn": policy},
                             "dns": OLD_ALB}},
        "stack": {"rootCertificate": False},  # the old script's root certificate was skipped
    }  # fmt: skip


def _zone_exists(world: Any) -> bool:
    zones = world.aws.client("route53").list_hosted_zones()["HostedZones"]
    return any(zone["Name"] == f"{SUB}." for zone in zones)


def test_import_then_drift_then_cleanup_keeps_or_removes(sandbox_world: Callable[..., Any]) -> None:
    from core.errors import DriftDetected
    from core.spec import parse_spec
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.import_stack import import_stack

    world = sandbox_world()
    written = set_up_the_old_way(world)
    spec = parse_spec(written)  # the written-back keys are accepted as is
    arn = spec.route53.sub_domain.cert_arn
    rows = import_stack(spec=spec)
    zone_id = spec.route53.sub_domain.hosted_zone_id
    assert f"hosted-zone {zone_id} (adopted)" in rows
    assert f"certificate {arn} (adopted)" in rows
    assert f"dns-record {zone_id}/kubeflow.{SUB}/CNAME (adopted)" in rows
    assert any(row.startswith("iam-policy ") and row.endswith("(adopted)") for row in rows)

    with pytest.raises(DriftDetected) as raised:  # no controller, Ingress or ALB of ours yet
        check_drift(stack=spec.name)
    drifted = " | ".join(raised.value.items)
    assert f"hosted-zone {SUB}" not in drifted  # adopted: no tags asked of it
    assert f"certificate *.{SUB}" not in drifted  # given by ARN and ISSUED
    assert "ingress istio-system/istio-ingress" in drifted

    cleanup_load_balancer(stack=spec.name)  # adopted: reported and left
    acm = world.aws.client("acm")
    assert _zone_exists(world)
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"

    rows = import_stack(spec=spec, take_ownership=True)
    assert f"hosted-zone {zone_id} (owned)" in rows
    assert f"certificate {arn} (owned)" in rows
    cleanup_load_balancer(stack=spec.name)
    assert not _zone_exists(world)  # its records, the delegation and the zone itself
    assert arn not in {
        c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]
    }
    root = world.aws.client("route53").list_resource_record_sets(
        HostedZoneId=world.seeded.root_zone_id)["ResourceRecordSets"]  # fmt: skip
    assert not [r for r in root if r["Type"] == "NS" and r["Name"] == f"{SUB}."]
