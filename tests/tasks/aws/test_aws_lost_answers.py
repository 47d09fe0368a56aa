"""Lost answers: AWS applies a write, the answer is lost, botocore sends it again.

IAM has no idempotency tokens: the second send of a create meets EntityAlreadyExists, of a
delete NoSuchEntity. The tasks look again and adopt only what carries our mark; ACM and Route53
requests carry idempotency keys derived from the spec.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.desired import policy_name, role_name
from core.errors import OwnershipError
from core.resources import RecordChange, RecordSetState, ValidationZones
from tasks.aws import acm, eks, iam, route53, route53_records

DOC_A = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}],
}
DOC_B = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeSubnets", "Resource": "*"}],
}
HOW = ["error500", "reset"]


@pytest.fixture(autouse=True)
def botocore_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's own retries are what meet the lost answer: let it send three times."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")


@pytest.fixture
def cluster(ctx, world):
    return eks.preflight_cluster.fn(ctx, world.cluster_name)


def _policies(boto) -> list[str]:
    return [p["PolicyName"] for p in boto("iam").list_policies(Scope="Local")["Policies"]]


@pytest.mark.parametrize("how", HOW)
def test_create_policy_whose_answer_is_lost_adopts_the_policy_it_made(ctx, spec, boto, faults, how):
    faults.lose_answer("iam", "CreatePolicy", how=how)
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    assert faults.applied == [("CreatePolicy", 200)]
    assert faults.sent.count("CreatePolicy") == 2  # the second send met EntityAlreadyExists
    assert (policy.owned, policy.document_matches) == (True, True)
    assert _policies(boto) == [policy_name(spec)]


@pytest.mark.parametrize("how", HOW)
def test_create_role_whose_answer_is_lost_still_gets_its_policy(
    ctx, spec, cluster, boto, faults, how
):
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    faults.lose_answer("iam", "CreateRole", how=how)
    role = iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn)
    assert faults.applied == [("CreateRole", 200)]
    assert (role.owned, role.trust_matches, role.attached_policy_arns) == (
        True,
        True,
        (policy.arn,),
    )


@pytest.mark.parametrize("how", HOW)
def test_create_oidc_provider_whose_answer_is_lost_is_one_provider(
    ctx, spec, cluster, boto, faults, how
):
    faults.lose_answer("iam", "CreateOpenIDConnectProvider", how=how)
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    assert faults.applied == [("CreateOpenIDConnectProvider", 200)]
    assert provider.owned
    listed = boto("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [item["Arn"] for item in listed] == [provider.arn]


@pytest.mark.parametrize("how", HOW)
def test_a_new_policy_version_whose_answer_is_lost_is_not_kept_twice(ctx, spec, boto, faults, how):
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    faults.lose_answer("iam", "CreatePolicyVersion", how=how)
    updated = iam.ensure_policy.fn(ctx, spec, document=DOC_B)
    assert faults.applied == [("CreatePolicyVersion", 200)]
    versions = boto("iam").list_policy_versions(PolicyArn=policy.arn)["Versions"]
    assert len(versions) == 2  # v1 (DOC_A) and one version of DOC_B, the default
    assert (updated.document_matches, updated.version_count) == (True, 2)


def test_a_version_written_but_not_made_default_is_reused(ctx, spec, boto, mutations):
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    boto("iam").create_policy_version(PolicyArn=policy.arn, PolicyDocument=json.dumps(DOC_B))
    made = mutations(lambda: iam.ensure_policy.fn(ctx, spec, document=DOC_B))
    assert made == ["iam:SetDefaultPolicyVersion"]
    assert iam.observe_policy.fn(ctx, spec, document=DOC_B, count_versions=True).version_count == 2


@pytest.mark.parametrize("how", HOW)
def test_attach_whose_answer_is_lost_attaches_once(ctx, spec, cluster, boto, faults, how):
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    faults.lose_answer("iam", "AttachRolePolicy", how=how)
    role = iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn)
    assert role.attached_policy_arns == (policy.arn,)
    assert iam.delete_role.fn(ctx, spec)
    assert iam.delete_policy.fn(ctx, spec)  # no phantom second attachment holds it


def _make_everything(ctx, spec, cluster) -> str:
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    iam.ensure_policy.fn(ctx, spec, document=DOC_B)  # a second version to delete
    iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn)
    return policy.arn


@pytest.mark.parametrize(
    "operation",
    [
        "DetachRolePolicy",
        "DeleteRole",
        "DeletePolicyVersion",
        "DeletePolicy",
        "DeleteOpenIDConnectProvider",
    ],
)
def test_deletes_whose_answers_are_lost_still_delete_everything(
    ctx, spec, cluster, boto, faults, operation
):
    _make_everything(ctx, spec, cluster)
    faults.lose_answer("iam", operation)
    assert iam.delete_role.fn(ctx, spec)
    assert iam.delete_policy.fn(ctx, spec)
    assert iam.delete_oidc_provider.fn(ctx, spec, cluster)
    assert faults.applied == [(operation, 200)]
    assert role_name(spec) not in [r["RoleName"] for r in boto("iam").list_roles()["Roles"]]
    assert _policies(boto) == []
    assert boto("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_a_foreign_policy_made_between_look_and_create_is_never_adopted(ctx, spec, boto, faults):
    def someone_else_first(**_: Any) -> None:
        faults.clear()  # once
        boto("iam").create_policy(PolicyName=policy_name(spec), PolicyDocument=json.dumps(DOC_A))

    faults.add("before-send.iam.CreatePolicy", someone_else_first)
    with pytest.raises(OwnershipError, match="was not made by a kubeflow-alb stack"):
        iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    policy = boto("iam").list_policies(Scope="Local")["Policies"][0]
    assert boto("iam").list_policy_tags(PolicyArn=policy["Arn"])["Tags"] == []  # untouched


@pytest.mark.parametrize("how", HOW)
def test_request_certificate_whose_answer_is_lost_makes_one_certificate(
    ctx, spec, root_zone_id, boto, faults, how
):
    faults.lose_answer("acm", "RequestCertificate", how=how)
    (request, *_) = acm.desired_certificates(spec)
    zones = ValidationZones(subdomain=spec.subdomain, root=spec.root, root_zone_id=root_zone_id)
    state = acm.ensure_certificate.fn(ctx, spec, request, zones=zones)
    assert faults.applied == [("RequestCertificate", 200)]
    listed = boto("acm").list_certificates()["CertificateSummaryList"]
    assert [item["CertificateArn"] for item in listed] == [state.arn]


@pytest.mark.parametrize("how", HOW)
def test_create_hosted_zone_whose_answer_is_lost_is_one_zone(
    ctx, spec, root_zone_id, boto, faults, how
):
    faults.lose_answer("route53", "CreateHostedZone", how=how)
    zone = route53.ensure_hosted_zone.fn(ctx, spec)
    assert faults.applied == [("CreateHostedZone", 201)]
    named = [z for z in boto("route53").list_hosted_zones()["HostedZones"]
             if z["Name"] == f"{spec.subdomain}."]  # fmt: skip
    assert [z["Id"].split("/")[-1] for z in named] == [zone.zone_id]
    assert zone.owned


@pytest.mark.parametrize("how", HOW)
def test_a_record_delete_whose_answer_is_lost_counts_as_done(ctx, root_zone_id, boto, faults, how):
    record = RecordSetState(name="old.example.com", type="A", ttl=60, values=("192.0.2.1",))
    route53_records.change_records.fn(
        ctx, root_zone_id, [RecordChange(action="UPSERT", record=record)]
    )
    faults.lose_answer("route53", "ChangeResourceRecordSets", how=how)
    assert route53_records.delete_record_set.fn(ctx, root_zone_id, "old.example.com", "A")
    assert faults.applied == [("ChangeResourceRecordSets", 200)]
    assert route53_records.observe_record_set.fn(ctx, root_zone_id, "old.example.com", "A") is None


def test_a_create_that_meets_another_value_still_fails(ctx, root_zone_id, boto):
    """The look after InvalidChangeBatch accepts only our own change, never someone else's."""
    mine = RecordSetState(name="x.example.com", type="A", ttl=60, values=("192.0.2.1",))
    theirs = mine.model_copy(update={"values": ("192.0.2.9",)})
    route53_records.change_records.fn(
        ctx, root_zone_id, [RecordChange(action="UPSERT", record=theirs)]
    )
    with pytest.raises(OwnershipError, match="already exists with other values"):
        route53_records.change_records.fn(
            ctx, root_zone_id, [RecordChange(action="CREATE", record=mine)]
        )
