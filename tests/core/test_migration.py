"""The config the kubeflow-manifests script writes back is accepted as is, and an import records
what it names as adopted resources, owned only after --take-ownership (pure)."""

from __future__ import annotations

import pytest

from core.errors import SpecError
from core.migration import import_rows, imported_resources
from core.resources import CertificateState, HostedZoneState, RecordSetState
from core.spec import parse_spec
from core.state import Kind

CERT = "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555"
POLICY = "arn:aws:iam::123456789012:policy/alb_ingress_controller_kubeflow_x1y2"
ALB = "k8s-istiosys-istioing-0123456789.us-west-2.elb.amazonaws.com"
WRITTEN_BACK = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {
        "rootDomain": {"name": "example.com", "hostedZoneId": "Z0123456789ROOT",
                       "certARN": CERT.replace("1111", "9999")},
        "subDomain": {"name": "platform.example.com", "hostedZoneId": "Z0123456789SUB",
                      "certARN": CERT},
    },
    # The script replaces kubeflow.alb (its scheme too) with these two keys.
    "kubeflow": {"alb": {"serviceAccount": {"name": "alb-ingress-controller",
                                            "namespace": "kubeflow", "policyArn": POLICY},
                         "dns": ALB}},
}  # fmt: skip


def test_the_written_back_config_is_accepted_as_is() -> None:
    spec = parse_spec(WRITTEN_BACK)
    assert spec.route53.sub_domain.cert_arn == CERT
    assert spec.route53.sub_domain.hosted_zone_id == "Z0123456789SUB"
    assert spec.route53.root_domain.cert_arn == CERT.replace("1111", "9999")
    account = spec.kubeflow.alb.service_account
    assert account is not None and account.policy_arn == POLICY  # noqa: PT018
    assert spec.kubeflow.alb.dns == ALB
    assert spec.kubeflow.alb.scheme == "internet-facing"  # the guide's default


def test_bad_written_back_values_are_refused_naming_the_field() -> None:
    bad = {**WRITTEN_BACK, "kubeflow": {"alb": {"serviceAccount": {
        "name": "x", "namespace": "y", "policyArn": "arn:aws:iam::1:role/x"}}}}  # fmt: skip
    with pytest.raises(SpecError, match="serviceAccount.policyArn"):
        parse_spec(bad)


def _import(*, owned: bool) -> list[str]:
    spec = parse_spec(WRITTEN_BACK)
    zone = HostedZoneState(zone_id="Z0123456789SUB", name="platform.example.com", owned=owned)
    certificate = CertificateState(arn=CERT, domain="*.platform.example.com", status="ISSUED",
                                   owned=owned)  # fmt: skip
    record = RecordSetState(name="kubeflow.platform.example.com", type="CNAME", values=(ALB,))
    resources = imported_resources(spec, zone=zone, certificates=(certificate,), record=record,
                                   owned=owned)  # fmt: skip
    assert {item.kind for item in resources} == {Kind.HOSTED_ZONE, Kind.CERTIFICATE,
        Kind.DNS_RECORD, Kind.IAM_POLICY, Kind.LOAD_BALANCER}  # fmt: skip
    return import_rows(resources)


def test_an_import_adopts_and_take_ownership_owns_only_what_it_tagged() -> None:
    adopted = _import(owned=False)
    assert all(row.endswith("(adopted)") for row in adopted)
    owned = _import(owned=True)
    assert f"certificate {CERT} (owned)" in owned
    assert "dns-record Z0123456789SUB/kubeflow.platform.example.com/CNAME (owned)" in owned
    # Neither the policy (its role is eksctl's) nor the ALB (its Ingress's) is taken over.
    assert f"iam-policy {POLICY} (adopted)" in owned
    assert f"load-balancer {ALB} (adopted)" in owned
