"""ACM tasks against moto: request or reuse, validation record placement, issuance wait, delete."""

from __future__ import annotations

import pytest
from moto import settings as moto_settings

from core.errors import AwsTransientError, OwnershipError, WaitTimeout
from core.resources import RecordChange, RecordSetState, ValidationZones
from tasks.aws import acm, acm_issuance, route53
from tasks.aws.route53_records import change_records


@pytest.fixture
def zones(ctx, spec, root_zone_id) -> ValidationZones:
    sub = route53.ensure_hosted_zone.fn(ctx, spec)
    return ValidationZones(
        subdomain=spec.subdomain,
        subdomain_zone_id=sub.zone_id,
        root=spec.root,
        root_zone_id=root_zone_id,
    )


@pytest.fixture
def pending_forever(monkeypatch):
    # moto issues a certificate on the first describe after this many seconds (read at run time).
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 3600)


def test_desired_certificates_follow_the_spec(spec):
    sub, root = acm.desired_certificates(spec)
    assert (sub.role, sub.domain, sub.sans) == ("subdomain", "*.platform.example.com", ())
    assert (root.role, root.domain) == ("root", "*.example.com")
    off = spec.model_copy(
        update={"stack": spec.stack.model_copy(update={"root_certificate": False})}
    )
    assert [request.role for request in acm.desired_certificates(off)] == ["subdomain"]


def test_ensure_requests_once_and_places_records_in_the_right_zone(
    ctx, spec, zones, boto, mutations, pending_forever
):
    sub_request, root_request = acm.desired_certificates(spec)
    sub = acm.ensure_certificate.fn(ctx, spec, sub_request, zones=zones)
    root = acm.ensure_certificate.fn(ctx, spec, root_request, zones=zones)
    assert sub.owned
    assert sub.status == "PENDING_VALIDATION"
    assert sub.tags == spec.tags
    assert {record.zone_id for record in sub.validation_records} == {zones.subdomain_zone_id}
    assert {record.zone_id for record in root.validation_records} == {zones.root_zone_id}
    assert (
        boto("acm").describe_certificate(CertificateArn=sub.arn)["Certificate"][
            "DomainValidationOptions"
        ][0]["ValidationMethod"]
        == "DNS"
    )

    again: list = []
    made = mutations(
        lambda: again.append(acm.ensure_certificate.fn(ctx, spec, sub_request, zones=zones))
    )
    assert made == []
    assert again[0].arn == sub.arn


def test_a_certificate_without_our_tags_is_not_reused(ctx, spec, zones, boto, pending_forever):
    request = acm.desired_certificates(spec)[0]
    theirs = boto("acm").request_certificate(DomainName=request.domain, ValidationMethod="DNS")
    ours = acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
    assert ours.arn != theirs["CertificateArn"]
    assert ours.owned


def test_root_not_in_route53_leaves_records_to_add_by_hand(ctx, spec, zones, pending_forever):
    manual = zones.model_copy(update={"root_zone_id": None})
    root = acm.ensure_certificate.fn(ctx, spec, acm.desired_certificates(spec)[1], zones=manual)
    assert acm.validation_changes([root]) == {}
    assert acm.manual_validation_records([root]) == root.validation_records
    assert root.validation_records[0].zone_name == "example.com"


def test_both_certificates_issue_once_their_records_are_in_place(ctx, spec, zones, monkeypatch):
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 0)
    certificates = [
        acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
        for request in acm.desired_certificates(spec)
    ]
    changes = acm.validation_changes(certificates)
    assert set(changes) == {zones.subdomain_zone_id, zones.root_zone_id}
    for zone_id, batch in changes.items():
        change_records.fn(ctx, zone_id, batch)
    issued = acm_issuance.wait_for_certificates.fn(ctx, certificates, zones=zones)
    assert [state.status for state in issued] == ["ISSUED", "ISSUED"]


def test_timeout_names_the_missing_and_the_wrong_record(
    ctx, spec, zones, monkeypatch, pending_forever
):
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


def test_delete_only_ours_and_report_gone(ctx, spec, zones, boto, faults, pending_forever):
    request = acm.desired_certificates(spec)[0]
    ours = acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
    theirs = boto("acm").request_certificate(DomainName="x.example.com", ValidationMethod="DNS")
    with pytest.raises(OwnershipError):
        acm.delete_certificate.fn(ctx, theirs["CertificateArn"], stack=spec.name)

    # Real ACM refuses while a listener uses it; moto does not, so inject the error.
    faults.fail("acm", "DeleteCertificate", "ResourceInUseException", times=1)
    with pytest.raises(AwsTransientError, match="still in use"):
        acm.delete_certificate.fn(ctx, ours.arn, stack=spec.name)

    assert acm.delete_certificate.fn(ctx, ours.arn, stack=spec.name)
    assert not acm.delete_certificate.fn(ctx, ours.arn, stack=spec.name)
