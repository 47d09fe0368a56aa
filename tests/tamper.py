"""Out-of-band changes to a set-up stack, as an operator or another tool would make them."""

from __future__ import annotations

from typing import Any

INGRESS = ("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")
CERTIFICATE_ARN = "alb.ingress.kubernetes.io/certificate-arn"


def delete_dashboard_record(world: Any, subdomain: str) -> None:
    """Delete the `*.<subdomain>` alias record straight through Route53."""
    route53 = world.aws.client("route53")
    zone = next(
        z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{subdomain}."
    )
    record = next(
        r
        for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        if r["Name"] == f"\\052.{subdomain}." and r["Type"] == "A"
    )
    route53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]},
    )


def keep_first_certificate(world: Any) -> str:
    """Drop the *.<root> certificate from the Ingress annotation (the ALB keeps its default)."""
    store = world.kube.store
    ingress = store.get(*INGRESS)
    annotations = ingress["metadata"]["annotations"]
    annotations[CERTIFICATE_ARN] = annotations[CERTIFICATE_ARN].split(",")[0]
    store.update(ingress)
    return str(annotations[CERTIFICATE_ARN])
