"""Resource records and reports are derived purely from observed states."""

from __future__ import annotations

from core import records
from core.desired import dashboard_record, dashboard_url, partition_of, policy_arn, role_arn
from core.report import api_call_rows, leftovers_summary, markdown_table, setup_summary
from core.resources import (
    ApiCall,
    ApiCallCounts,
    CertificateState,
    LoadBalancerState,
    ValidationRecord,
)
from core.spec import parse_spec
from core.state import Kind, StackRecord
from core.version import package_version

SPEC = parse_spec(
    {
        "cluster": {"name": "kubeflow", "region": "us-west-2"},
        "route53": {
            "rootDomain": {"name": "example.com"},
            "subDomain": {"name": "platform.example.com"},
        },  # fmt: skip
    }
)
ALB = LoadBalancerState(
    arn="arn:aws:elasticloadbalancing:us-west-2:1:loadbalancer/app/k8s/1",
    name="k8s",
    dns_name="k8s-1.us-west-2.elb.amazonaws.com",
    state="active",
    scheme="internet-facing",
    canonical_hosted_zone_id="Z1H1FL5HABSF5",
)


def _certificate(domain: str, owned: bool, record: str) -> CertificateState:
    return CertificateState(
        arn=f"arn:aws:acm:us-west-2:1:certificate/{domain}",
        domain=domain,
        status="ISSUED",
        owned=owned,
        validation_records=(
            ValidationRecord(
                domains=(domain,),
                name=record,
                value="v.acm-validations.aws",
                zone_id="ZSUB",
                zone_name="platform.example.com",
            ),  # fmt: skip
        ),
    )


def test_shared_validation_record_is_recorded_once_and_owned_if_any_owner_is_ours() -> None:
    certs = [_certificate("*.platform.example.com", False, "_a.platform.example.com"),
             _certificate("platform.example.com", True, "_a.platform.example.com")]  # fmt: skip
    (only,) = records.validation_resources(certs)
    assert only.kind is Kind.VALIDATION_RECORD
    assert only.owned
    assert only.details == {"zone_id": "ZSUB", "value": "v.acm-validations.aws"}


def test_dashboard_record_alias_or_cname() -> None:
    alias = dashboard_record(SPEC, ALB)
    assert alias.name == "*.platform.example.com"
    assert alias.type == "A"
    assert alias.alias is not None
    assert alias.alias.hosted_zone_id == "Z1H1FL5HABSF5"
    cname_spec = SPEC.model_copy(
        update={"stack": SPEC.stack.model_copy(update={"record_type": "cname"})}
    )
    cname = dashboard_record(cname_spec, ALB)
    assert (cname.type, cname.values, cname.alias) == ("CNAME", (ALB.dns_name,), None)


def test_derived_arns_and_url() -> None:
    assert partition_of("arn:aws-cn:sts::1:assumed-role/x") == "aws-cn"
    assert policy_arn(SPEC, account="123") == (
        "arn:aws:iam::123:policy/kfalb-kubeflow-25cb4344-AWSLoadBalancerController"  # per cluster
    )
    assert role_arn(SPEC, account="123", partition="aws-us-gov").startswith(
        "arn:aws-us-gov:iam::123:role/"
    )
    assert dashboard_url(SPEC) == "https://kubeflow.platform.example.com/"
    assert dashboard_url(SPEC, 8443) == "https://kubeflow.platform.example.com:8443/"


def test_reports() -> None:
    record = StackRecord(stack="s").with_resources(
        records.load_balancer_resource(ALB),
        records.certificate_resource(_certificate("*.x.y", False, "_b")),
    )
    calls = ApiCallCounts(calls=(ApiCall(service="route53", operation="ListHostedZones", mutating=False, count=3),
                                 ApiCall(service="acm", operation="RequestCertificate", mutating=True, count=1)))  # fmt: skip
    summary = setup_summary(record, dashboard_url="https://k/", calls=calls, notes=["n"])
    assert summary.startswith("# Kubeflow is served at [https://k/](https://k/)")
    assert "1 resources created or kept by this stack, 1 pre-existing adopted" in summary
    assert "AWS API calls in this run: 1 mutating, 3 read." in summary
    assert f"Made by kubeflow-alb {package_version()}." in summary
    assert "kubeflow-alb 9.9" in setup_summary(
        record, dashboard_url="u", calls=calls, version="9.9"
    )
    assert [row["operation"] for row in api_call_rows(calls.calls)] == [
        "RequestCertificate",
        "ListHostedZones",
    ]
    assert markdown_table([{"a": "x|y"}]) == "| a |\n|---|\n| x\\|y |"
    assert "nothing left" in leftovers_summary("s", {"certificate": []})
    assert "- **certificate** arn:1" in leftovers_summary("s", {"certificate": ["arn:1"]})
