"""One sandbox endpoint, several accounts: the access key picks the account; Route53's rate per
account enforced as AWS does (Throttling, HTTP 400, "Rate exceeded")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox
from sandbox.aws.accounts import seen_requests

OWN, OTHER = "310000000001", "410000000001"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(account_id=OWN) as running:
        yield running


def test_an_added_accounts_key_sees_only_that_account(sandbox: AwsSandbox) -> None:
    keys = sandbox.add_account(OTHER, region="eu-west-1")
    other = keys.session().client("route53", endpoint_url=sandbox.endpoint_url)
    other.create_hosted_zone(Name="example-other.com", CallerReference="other-1")
    sts = keys.session().client("sts", endpoint_url=sandbox.endpoint_url)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{OTHER}:user/kfalb-sandbox"
    own = sandbox.client("route53")
    assert sandbox.client("sts").get_caller_identity()["Account"] == OWN
    names = {z["Name"] for z in own.list_hosted_zones()["HostedZones"]}
    assert "example-other.com." not in names
    assert {z["Name"] for z in other.list_hosted_zones()["HostedZones"]} == {"example-other.com."}
    assert sandbox.add_account(OTHER) == keys  # the same credentials on a second ask


def test_route53_past_the_accounts_rate_is_throttled_as_aws_does(sandbox: AwsSandbox) -> None:
    keys = sandbox.add_account(OTHER)
    route53 = keys.session().client(
        "route53",
        endpoint_url=sandbox.endpoint_url,
        config=Config(retries={"total_max_attempts": 1}),
    )
    sandbox.set_route53_rate(2.0)
    try:
        route53.list_hosted_zones()
        route53.list_hosted_zones()  # a bucket of two: both go
        with pytest.raises(ClientError) as raised:
            route53.list_hosted_zones()
        sandbox.client("route53").list_hosted_zones()  # the own account has its own bucket
    finally:
        sandbox.set_route53_rate(None)
    error = raised.value.response
    assert error["Error"]["Code"] == "Throttling"
    assert error["Error"]["Message"] == "Rate exceeded"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    route53.list_hosted_zones()  # no limit any more
    accounts = {item.account for item in seen_requests() if item.service == "route53"}
    assert {OWN, OTHER} <= accounts
