"""route53.rootDomain.roleArn and externalId: validated before any call, the field named."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import SpecError
from core.spec import parse_spec, region_partition


def _config(region: str = "us-west-2", **root: Any) -> dict[str, Any]:
    return {
        "cluster": {"name": "kubeflow", "region": region},
        "route53": {
            "rootDomain": {"name": "example.com", **root},
            "subDomain": {"name": "platform.example.com"},
        },
    }


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("us-west-2", "arn:aws:iam::210987654321:role/kfalb-root-dns"),
        ("us-west-2", "arn:aws:iam::210987654321:role/dns/team-a/kfalb-root-dns"),
        ("cn-north-1", "arn:aws-cn:iam::210987654321:role/kfalb-root-dns"),
        ("us-gov-west-1", "arn:aws-us-gov:iam::210987654321:role/kfalb-root-dns"),
    ],
)
def test_a_role_arn_of_the_clusters_partition_is_accepted(region: str, arn: str) -> None:
    spec = parse_spec(_config(region, roleArn=arn, externalId="team-a:dns"))
    assert spec.route53.root_domain.role_arn == arn
    assert spec.route53.root_domain.external_id == "team-a:dns"


def test_no_role_is_the_default_and_empty_means_none() -> None:
    assert parse_spec(_config()).route53.root_domain.role_arn is None
    assert parse_spec(_config(roleArn="", externalId="")).route53.root_domain.role_arn is None


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ({"roleArn": "kfalb-root-dns"},
         "route53.rootDomain.roleArn: 'kfalb-root-dns' is not an IAM role ARN"),
        ({"roleArn": "arn:aws:iam::210987654321:user/dns"}, "is not an IAM role ARN"),
        ({"roleArn": "arn:aws:iam::2109876543:role/dns"}, "is not an IAM role ARN"),
        ({"roleArn": "arn:aws:iam::210987654321:role/" + "r" * 65}, "is not an IAM role ARN"),
        ({"roleArn": "arn:aws-cn:iam::210987654321:role/dns"},
         "route53.rootDomain.roleArn: 'arn:aws-cn:iam::210987654321:role/dns' is in partition "
         "aws-cn, not in the cluster's partition aws (us-west-2)"),
        ({"externalId": "abc"}, "externalId is set without route53.rootDomain.roleArn"),
        ({"roleArn": "arn:aws:iam::210987654321:role/dns", "externalId": "x"},
         "route53.rootDomain.externalId: is not an sts:ExternalId"),
        ({"roleArn": "arn:aws:iam::210987654321:role/dns", "externalId": "has space"},
         "route53.rootDomain.externalId: is not an sts:ExternalId"),
        ({"rolearn": "arn:aws:iam::210987654321:role/dns"},
         "route53.rootDomain.rolearn: is not a known setting"),
    ],
)  # fmt: skip
def test_a_bad_role_setting_is_refused_naming_the_field(root: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_spec(_config(**root))
    assert message in str(error.value)


def test_an_external_id_is_not_echoed_in_its_error() -> None:
    with pytest.raises(SpecError) as error:
        parse_spec(_config(roleArn="arn:aws:iam::210987654321:role/dns", externalId="s3cr et"))
    assert "s3cr et" not in str(error.value)


def test_the_partition_of_a_region() -> None:
    assert [region_partition(r) for r in ("eu-west-1", "cn-northwest-1", "us-gov-east-1")] == [
        "aws", "aws-cn", "aws-us-gov"
    ]  # fmt: skip
