"""ACM tasks against the sandbox: request or reuse, record placement, issuance wait, delete."""

from __future__ import annotations

import json

import pytest

from core.errors import AwsError, AwsTransientError, OwnershipError, WaitTimeout
from core.resources import RecordChange, RecordSetState, ValidationZones
from tasks.aws import acm, acm_issuance, route53
from tasks.aws.route53_records import change_records


@pytest.fixture
def zones(ctx, spec, root_zone_id) -> ValidationZones:
    sub = route53.ensure_hosted_zone.fn(ctx, spec)
    route53.ensure_delegation.fn(ctx, root_zone_id, sub)
    return ValidationZones(
        subdomain=spec.subdomain,
        subdomain_zone_id=sub.zone_id,
        root=spec.root,
        root_zone_id=root_zone_id,
    )


def test_desired_certificates_follow_the_spec(spec):
    sub, root = acm.desired_certificates(spec)
    assert (sub.role, sub.domain, sub.sans) == ("subdomain", "*.platform.example.com", ())
    assert (root.role, root.domain) == ("root", "*.example.com")
    off = spec.model_copy(
        update={"stack": spec.stack.model_copy(update={"root_certificate": False})}
    )
    assert [request.role for request in acm.desired_certificates(off)] == ["subdomain"]


def test_ensure_requests_once_and_places_records_in_the_right_zone(
    ctx, spec, zones, boto, mutations
):
    sub_request, root_request = acm.desired_certificates(spec)
    sub = acm.ensure_certificate.fn(ctx, spec, sub_request, zones=zones)
    root = acm.ensure_certificate.fn(ctx, spec, root_request, zones=zones)
    assert sub.owned
    assert sub.status == "PENDING_VALIDATION"
    assert sub.tags == spec.tags
    assert {record.zone_id for record in sub.validation_records} == {zones.subdomain_zone_id}
    assert {record.zone_id for record in root.validation_records} == {zones.root_zone_id}
    described = boto("acm").describe_certificate(CertificateArn=sub.arn)["Certificate"]
    assert described["DomainValidationOptions"][0]["ValidationMethod"] == "DNS"

    again: list = []
    made = mutations(
        lambda: again.append(acm.ensure_certificate.fn(ctx, spec, sub_request, zones=zones))
    )
    assert made == []
    assert again[0].arn == sub.arn


def test_after_an_observation_the_request_lists_nothing_again(ctx, spec, zones):
    from tasks.aws import clients

    request = acm.desired_certificates(spec)[0]
    before = clients.api_calls()
    made = acm.ensure_certificate.fn(ctx, spec, request, zones=zones, search=False, seen=None)
    operations = {call.operation for call in clients.api_calls().since(before).calls}
    assert "RequestCertificate" in operations
    assert "ListCertificates" not in operations  # the observation a moment ago listed them

    # What the observation found is reused: its missing mark added, nothing requested.
    stale = made.model_copy(update={"tags": {}})
    before = clients.api_calls()
    again = acm.ensure_certificate.fn(ctx, spec, request, zones=zones, search=False, seen=stale)
    calls = clients.api_calls().since(before)
    assert again.arn == made.arn
    assert [c.operation for c in calls.mutating_calls()] == ["AddTagsToCertificate"]
    assert "ListCertificates" not in {call.operation for call in calls.calls}


def test_a_certificate_without_our_tags_is_not_reused(ctx, spec, zones, boto):
    request = acm.desired_certificates(spec)[0]
    theirs = boto("acm").request_certificate(DomainName=request.domain, ValidationMethod="DNS")
    ours = acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
    assert ours.arn != theirs["CertificateArn"]
    assert ours.owned


def test_sans_and_their_shared_records(ctx, spec, zones):
    sans = ("platform.example.com", "*.ml.platform.example.com")
    request = acm.desired_certificates(spec)[0].model_copy(update={"sans": sans})
    certificate = acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
    assert set(certificate.sans) == set(sans)
    # *.platform.example.com and platform.example.com prove the same name: one record for both.
    domains = sorted(sorted(record.domains) for record in certificate.validation_records)
    assert domains == [
        ["*.ml.platform.example.com"],
        ["*.platform.example.com", "platform.example.com"],
    ]


def test_root_not_in_route53_leaves_records_to_add_by_hand(ctx, spec, zones):
    manual = zones.model_copy(update={"root_zone_id": None})
    root = acm.ensure_certificate.fn(ctx, spec, acm.desired_certificates(spec)[1], zones=manual)
    assert acm.validation_changes([root]) == {}
    assert acm.manual_validation_records([root]) == root.validation_records
    assert root.validation_records[0].zone_name == "example.com"


def test_both_certificates_issue_once_their_records_are_in_place(ctx, spec, zones, mutations):
    certificates = [
        acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
        for request in acm.desired_certificates(spec)
    ]
    changes = acm.validation_changes(certificates)
    assert set(changes) == {zones.subdomain_zone_id, zones.root_zone_id}
    made = mutations(
        lambda: [change_records.fn(ctx, zone, batch) for zone, batch in changes.items()]
    )
    assert made == ["route53:ChangeResourceRecordSets"] * 2
    issued = acm_issuance.wait_for_certificates.fn(ctx, certificates, zones=zones)
    assert [state.status for state in issued] == ["ISSUED", "ISSUED"]


def test_timeout_names_the_missing_and_the_wrong_record(ctx, spec, zones, monkeypatch):
    monkeypatch.setenv("KFALB_ACM_TIMEOUT_SECONDS", "0.2")
    sub_request, root_request = acm.desired_certificates(spec)
    sub = acm.ensure_certificate.fn(ctx, spec, sub_request, zones=zones)
    root = acm.ensure_certificate.fn(ctx, spec, root_request, zones=zones)
    wrong = sub.validation_records[0]
    record = RecordSetState(name=wrong.name, type="CNAME", ttl=300, values=("typo.example.net",))
    change_records.fn(ctx, wrong.zone_id, [RecordChange(action="UPSERT", record=record)])

    with pytest.raises(WaitTimeout) as caught:
        acm_issuance.wait_for_certificates.fn(ctx, [sub, root], zones=zones)
    message = str(caught.value)
    missing = root.validation_records[0]
    assert f"{missing.name} CNAME {missing.value}: missing from zone example.com" in message
    assert f"{wrong.name} CNAME {wrong.value}: zone platform.example.com" in message
    assert "typo.example.net instead" in message
    assert "PENDING_VALIDATION" in message


def test_a_failed_certificate_fails_the_wait_with_its_reason_and_records(ctx, spec, zones, faults):
    sub = acm.ensure_certificate.fn(ctx, spec, acm.desired_certificates(spec)[0], zones=zones)
    record = sub.validation_records[0]
    failed = {
        "Certificate": {
            "CertificateArn": sub.arn,
            "DomainName": sub.domain,
            "SubjectAlternativeNames": [sub.domain],
            "Status": "FAILED",
            "FailureReason": "CAA_ERROR",
            "DomainValidationOptions": [
                {
                    "DomainName": sub.domain,
                    "ValidationStatus": "FAILED",
                    "ResourceRecord": {"Name": record.name, "Type": "CNAME", "Value": record.value},
                }
            ],
        }
    }
    # ACM fails a certificate when, e.g., a CAA record forbids Amazon; moto never does.
    faults.respond("acm", "DescribeCertificate", json.dumps(failed).encode())
    with pytest.raises(AwsError, match="FAILED \\(CAA_ERROR\\)") as caught:
        acm_issuance.wait_for_certificates.fn(ctx, [sub], zones=zones)
    assert f"{record.name} CNAME {record.value}: missing from zone platform.example.com" in str(
        caught.value
    )


def test_delete_only_ours_and_report_gone(ctx, spec, zones, issued_certificate):
    request = acm.desired_certificates(spec)[0]
    ours = acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
    theirs = issued_certificate(zones.root_zone_id, "www.example.com")
    with pytest.raises(OwnershipError):
        acm.delete_certificate.fn(ctx, theirs, stack=spec.name)
    assert acm.delete_certificate.fn(ctx, ours.arn, stack=spec.name)
    assert not acm.delete_certificate.fn(ctx, ours.arn, stack=spec.name)


def test_a_certificate_in_use_is_a_retryable_error_naming_the_user(
    ctx, spec, world, boto, issued_certificate, faults
):
    arn = issued_certificate(world.root_zone_id, "kubeflow.example.com")
    boto("acm").add_tags_to_certificate(
        CertificateArn=arn, Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()]
    )
    elb = boto("elbv2")
    lb = elb.create_load_balancer(Name="k8s-istio", Subnets=world.public_subnets)
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": arn}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    with pytest.raises(AwsTransientError, match="still in use by") as caught:
        acm.delete_certificate.fn(ctx, arn, stack=spec.name)
    assert lb_arn in str(caught.value)
    assert caught.value.code == "ResourceInUseException"
