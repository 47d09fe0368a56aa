"""Lost answers: AWS applies a write, the answer is lost, botocore sends it again.

IAM has no idempotency tokens: the second send of a create meets EntityAlreadyExists, of a
delete NoSuchEntity. The tasks look again and adopt only what carries our mark; ACM and Route53
requests carry idempotency keys derived from the spec. Every write's lost answer, at its step of
the resource's life, is in test_aws_lost_answer_each.py; here: both ways an answer is lost (a
500 and a reset connection), and what must never be adopted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.desired import policy_name
from core.errors import OwnershipError
from core.resources import RecordChange, RecordSetState
from tasks.aws import iam, route53_records

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


def test_a_version_written_but_not_made_default_is_reused(ctx, spec, boto, mutations):
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    boto("iam").create_policy_version(PolicyArn=policy.arn, PolicyDocument=json.dumps(DOC_B))
    made = mutations(lambda: iam.ensure_policy.fn(ctx, spec, document=DOC_B))
    assert made == ["iam:SetDefaultPolicyVersion"]
    assert iam.observe_policy.fn(ctx, spec, document=DOC_B, count_versions=True).version_count == 2


def test_a_foreign_policy_made_between_look_and_create_is_never_adopted(ctx, spec, boto, faults):
    def someone_else_first(**_: Any) -> None:
        faults.clear()  # once
        boto("iam").create_policy(PolicyName=policy_name(spec), PolicyDocument=json.dumps(DOC_A))

    faults.add("before-send.iam.CreatePolicy", someone_else_first)
    with pytest.raises(OwnershipError, match="was not made by a kubeflow-alb stack"):
        iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    policy = boto("iam").list_policies(Scope="Local")["Policies"][0]
    assert boto("iam").list_policy_tags(PolicyArn=policy["Arn"])["Tags"] == []  # untouched


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
