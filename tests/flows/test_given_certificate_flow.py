"""Bring your own certificate: a certificate requested out of band and named by
`route53.subDomain.certARN` is used (never requested, never deleted), and setup reaches HTTPS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.spec import StackSpec, load_spec
from tests.tamper import CERTIFICATE_ARN, INGRESS

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
SUB = "platform.example.com"


def issued_out_of_band(world: Any, domain: str) -> str:
    """A certificate requested by hand, validated through a CNAME put by hand in the root zone
    (the subdomain is not delegated yet, so the root zone answers for it)."""
    from core.waiting import wait_until

    acm, route53 = world.aws.client("acm"), world.aws.client("route53")
    arn = str(acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"])

    def options() -> list[Any]:
        found = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        return list(found.get("DomainValidationOptions", []))

    (option,) = wait_until(options, lambda found: bool(found and found[0].get("ResourceRecord")),
                           what="the validation record", timeout=10, interval=0.05)  # fmt: skip
    record = option["ResourceRecord"]
    route53.change_resource_record_sets(
        HostedZoneId=world.seeded.root_zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": record["Name"], "Type": "CNAME", "TTL": 300,
            "ResourceRecords": [{"Value": record["Value"]}]}}]},
    )  # fmt: skip
    wait_until(lambda: acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"],
               lambda status: status == "ISSUED", what=f"{arn} ISSUED", timeout=20,
               interval=0.05)  # fmt: skip
    return arn


def _spec(arn: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name="given-certificate", rootCertificate=False)
    data["route53"]["subDomain"]["certARN"] = arn
    return StackSpec.model_validate(data)


def test_a_given_certificate_is_used_checked_and_left(sandbox_world: Callable[..., Any]) -> None:
    from flows.check_drift import observe_plan
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world = sandbox_world()
    arn = issued_out_of_band(world, f"*.{SUB}")
    spec = _spec(arn)
    before = observe_plan(spec)[1]
    (certificate,) = [c for c in before.changes if c.item.kind.value == "certificate"]
    assert certificate.action.value == "keep"  # found ISSUED by its ARN: nothing to request
    assert not [c for c in before.changes if c.item.kind.value == "validation-record"]

    calls = api_calls()
    setup_load_balancer(spec=spec)  # ends only once https://kubeflow.<sub>/ answers
    made = {call.operation for call in api_calls().since(calls).mutating_calls()}
    assert "RequestCertificate" not in made
    assert world.kube.store.get(*INGRESS)["metadata"]["annotations"][CERTIFICATE_ARN] == arn
    assert observe_plan(spec)[1].converged

    cleanup_load_balancer(stack=spec.name)
    acm = world.aws.client("acm")
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"
    assert not acm.list_tags_for_certificate(CertificateArn=arn).get("Tags")  # never tagged
