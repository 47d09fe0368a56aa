"""STS AssumeRole in the sandbox as AWS decides it: the role must exist and trust the caller, and
the credentials it issues act in the role's account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox
from sandbox.aws.seed import RootAccount, root_dns_trust
from sandbox.aws.sts import trusts

WORKLOAD = "111111110031"
ROOT = "222222220031"
CALLER = f"arn:aws:sts::{WORKLOAD}:user/moto"


def _allow(principal: Any, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": WORKLOAD},
        {"AWS": f"arn:aws:iam::{WORKLOAD}:root"},
        {"AWS": ["arn:aws:iam::999999999999:root", CALLER]},
        {"AWS": "*"},
        "*",
    ],
)
def test_a_principal_naming_the_caller_or_its_account_is_trusted(principal: Any) -> None:
    assert trusts(_allow(principal), caller_account=WORKLOAD, caller_arn=CALLER)


@pytest.mark.parametrize(
    "document",
    [
        _allow({"AWS": "arn:aws:iam::999999999999:root"}),
        _allow({"AWS": f"arn:aws:iam::{WORKLOAD}:user/someone-else"}),
        _allow({"Service": "ec2.amazonaws.com"}),
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": WORKLOAD}, "Action": "s3:*"}]},
        {"Statement": [_allow({"AWS": WORKLOAD})["Statement"][0],
                       {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}]},
        {"Statement": []},
        "not json",
    ],
    ids=["other-account", "other-user", "service", "other-action", "deny-wins", "empty", "junk"],
)  # fmt: skip
def test_a_policy_that_does_not_allow_the_caller_is_not_trusted(document: Any) -> None:
    assert not trusts(document, caller_account=WORKLOAD, caller_arn=CALLER)


def test_an_assumed_role_session_is_trusted_by_its_role_arn() -> None:
    session = f"arn:aws:sts::{WORKLOAD}:assumed-role/runner/kfalb-x"
    document = _allow({"AWS": f"arn:aws:iam::{WORKLOAD}:role/runner"})
    assert trusts(document, caller_account=WORKLOAD, caller_arn=session)
    assert not trusts(document, caller_account=WORKLOAD, caller_arn=CALLER)


def test_the_external_id_condition_is_checked() -> None:
    exact = root_dns_trust(WORKLOAD, external_id="id-1")
    like = _allow({"AWS": WORKLOAD}, Condition={"StringLike": {"sts:ExternalId": "team-*"}})
    other = _allow({"AWS": WORKLOAD}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})

    def ok(document: Any, external_id: str | None) -> bool:
        return trusts(document, caller_account=WORKLOAD, caller_arn=CALLER, external_id=external_id)

    assert ok(exact, "id-1")
    assert not ok(exact, "id-2")
    assert not ok(exact, None)
    assert ok(like, "team-a")
    assert not ok(like, "other")
    assert not ok(other, None)  # a condition the sandbox cannot evaluate is not met
    assert ok(root_dns_trust(WORKLOAD), "any-id")  # AWS ignores an ExternalId nobody asks for


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox(account_id=WORKLOAD) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def root(aws: AwsSandbox) -> RootAccount:
    made = aws.seed_root_account(ROOT, root_domain="example.org", external_id="id-1")
    aws.client("iam", account=ROOT).create_role(
        RoleName="untrusting",
        AssumeRolePolicyDocument=json.dumps(root_dns_trust("999999999999")),
    )
    return made


def _denied(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.mark.parametrize(
    ("role", "external_id"),
    [("no-such-role", "id-1"), ("untrusting", "id-1"), ("kfalb-root-dns", "id-2"),
     ("kfalb-root-dns", None)],
    ids=["missing", "untrusting", "wrong-external-id", "no-external-id"],
)  # fmt: skip
def test_assume_role_is_refused_as_aws_refuses_it(
    aws: AwsSandbox, root: RootAccount, role: str, external_id: str | None
) -> None:
    arn = f"arn:aws:iam::{ROOT}:role/{role}"
    extra = {"ExternalId": external_id} if external_id else {}

    with pytest.raises(ClientError) as excinfo:
        aws.client("sts").assume_role(RoleArn=arn, RoleSessionName="kfalb-test", **extra)

    assert _denied(excinfo) == (
        "AccessDenied",
        f"User: {CALLER} is not authorized to perform: sts:AssumeRole on resource: {arn}",
        403,
    )


def test_the_credentials_of_an_assumed_role_act_in_the_roles_account(
    aws: AwsSandbox, root: RootAccount
) -> None:
    answer = aws.client("sts").assume_role(
        RoleArn=root.role_arn, RoleSessionName="kfalb-test", ExternalId="id-1"
    )
    found = answer["Credentials"]
    assumed = boto3.Session(
        aws_access_key_id=found["AccessKeyId"],
        aws_secret_access_key=found["SecretAccessKey"],
        aws_session_token=found["SessionToken"],
        region_name=aws.region,
    )

    def client(service: str) -> Any:
        return assumed.client(service, endpoint_url=aws.endpoint_url)  # type: ignore[call-overload]

    identity = client("sts").get_caller_identity()
    assert identity["Account"] == ROOT
    assert identity["Arn"] == f"arn:aws:sts::{ROOT}:assumed-role/kfalb-root-dns/kfalb-test"
    zones = client("route53").list_hosted_zones()["HostedZones"]
    assert [zone["Name"] for zone in zones] == ["example.org."]
    # The workload account's own credentials do not see the root account's zone.
    assert aws.client("route53").list_hosted_zones()["HostedZones"] == []
    assert aws.client("sts").get_caller_identity()["Account"] == WORKLOAD
