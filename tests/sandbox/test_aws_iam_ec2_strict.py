"""IAM and EC2 rules of the AWS sandbox, checked through boto3."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox

_n = itertools.count()
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:*", "Resource": "*"}],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox(account_id="111111110003") as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def iam(aws: AwsSandbox) -> Any:
    return aws.client("iam")


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def new_policy(iam: Any) -> str:
    return str(
        iam.create_policy(PolicyName=f"policy{next(_n)}", PolicyDocument=POLICY)["Policy"]["Arn"]
    )


def new_role(iam: Any) -> str:
    name = f"role{next(_n)}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    return name


def test_attached_policy_cannot_be_deleted(iam: Any) -> None:
    policy, role = new_policy(iam), new_role(iam)
    iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=policy)
    assert code_of(excinfo) == ("DeleteConflict", 409)
    assert "attached to entities" in str(excinfo.value)
    iam.detach_role_policy(RoleName=role, PolicyArn=policy)
    iam.delete_policy(PolicyArn=policy)


def test_policy_with_old_versions_cannot_be_deleted(iam: Any) -> None:
    policy = new_policy(iam)
    iam.create_policy_version(PolicyArn=policy, PolicyDocument=POLICY, SetAsDefault=True)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=policy)
    assert code_of(excinfo) == ("DeleteConflict", 409)
    assert "non-default versions" in str(excinfo.value)
    iam.delete_policy_version(PolicyArn=policy, VersionId="v1")
    iam.delete_policy(PolicyArn=policy)


def test_a_policy_has_at_most_five_versions(iam: Any) -> None:
    policy = new_policy(iam)
    for _ in range(4):
        iam.create_policy_version(PolicyArn=policy, PolicyDocument=POLICY)
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy_version(PolicyArn=policy, PolicyDocument=POLICY)
    assert code_of(excinfo) == ("LimitExceeded", 409)


def test_role_with_attached_policy_cannot_be_deleted(iam: Any) -> None:
    policy, role = new_policy(iam), new_role(iam)
    iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=role)
    assert code_of(excinfo) == ("DeleteConflict", 409)


def test_deleting_an_unknown_oidc_provider_is_no_such_entity(iam: Any) -> None:
    url = f"https://oidc.eks.us-west-2.amazonaws.com/id/{next(_n):032X}"
    arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=["sts.amazonaws.com"])[
        "OpenIDConnectProviderArn"
    ]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert code_of(excinfo) == ("NoSuchEntity", 404)


def test_tags_of_a_missing_subnet_cannot_be_deleted(aws: AwsSandbox) -> None:
    ec2 = aws.client("ec2")
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_tags(
            Resources=["subnet-0123456789abcdef0"], Tags=[{"Key": "kubernetes.io/role/elb"}]
        )
    assert code_of(excinfo)[0] == "InvalidSubnetID.NotFound"


def test_a_repeated_attach_is_a_no_op_so_one_detach_frees_the_policy(iam: Any) -> None:
    policy, role = new_policy(iam), new_role(iam)
    iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    iam.attach_role_policy(RoleName=role, PolicyArn=policy)  # IAM: success, nothing changes
    assert iam.get_policy(PolicyArn=policy)["Policy"]["AttachmentCount"] == 1
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [item["PolicyArn"] for item in attached] == [policy]
    iam.detach_role_policy(RoleName=role, PolicyArn=policy)
    iam.delete_policy(PolicyArn=policy)
    iam.delete_role(RoleName=role)


def test_a_repeated_set_default_version_is_a_no_op(iam: Any) -> None:
    policy = new_policy(iam)
    iam.create_policy_version(PolicyArn=policy, PolicyDocument=POLICY, SetAsDefault=False)
    iam.set_default_policy_version(PolicyArn=policy, VersionId="v2")
    iam.set_default_policy_version(PolicyArn=policy, VersionId="v2")  # IAM: success, no change
    versions = iam.list_policy_versions(PolicyArn=policy)["Versions"]
    assert {v["VersionId"]: v["IsDefaultVersion"] for v in versions} == {"v1": False, "v2": True}
    iam.delete_policy_version(PolicyArn=policy, VersionId="v1")  # the one not the default
    iam.delete_policy(PolicyArn=policy)
