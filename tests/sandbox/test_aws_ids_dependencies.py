"""The AWS sandbox's Route53 zone ids, security groups in use and DescribeTags limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.spec import parse_spec
from sandbox.aws import AwsSandbox, SeededWorld
from sandbox.ca import SandboxCA


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox(account_id="111111110021") as sandbox:
        sandbox.seed_world()
        yield sandbox


@pytest.fixture(scope="module")
def world(aws: AwsSandbox) -> SeededWorld:
    assert aws.world is not None
    return aws.world


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_zone_ids_look_like_route53_ones_and_pass_spec_validation(
    aws: AwsSandbox, world: SeededWorld
) -> None:
    route53 = aws.client("route53")
    created = route53.create_hosted_zone(Name="ids.example.org", CallerReference="ids-1")
    ids = [world.root_zone_id, created["HostedZone"]["Id"].rsplit("/", 1)[-1]]
    for zone_id in ids:
        assert zone_id is not None
        assert re.fullmatch(r"Z0[A-Z0-9]{19}", zone_id)
    assert ids[0] != ids[1]
    spec = parse_spec(
        {
            "cluster": {"name": "kubeflow", "region": "us-west-2"},
            "route53": {
                "rootDomain": {"name": "example.com", "hostedZoneId": ids[0]},
                "subDomain": {"name": "platform.example.com"},
            },
        }
    )
    assert spec.route53.root_domain.hosted_zone_id == ids[0]
    # The new id is what every Route53 call knows the zone by.
    assert route53.get_hosted_zone(Id=ids[1])["HostedZone"]["Name"] == "ids.example.org."


def _group(ec2: Any, world: SeededWorld, name: str) -> str:
    return str(
        ec2.create_security_group(GroupName=name, Description=name, VpcId=world.vpc_id)["GroupId"]
    )


def test_a_group_a_load_balancer_uses_cannot_be_deleted_until_it_is_gone(
    aws: AwsSandbox, world: SeededWorld
) -> None:
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    group = _group(ec2, world, "lb-group")
    balancer = elbv2.create_load_balancer(
        Name="uses-group", Subnets=list(world.public_subnet_ids), SecurityGroups=[group]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    with pytest.raises(ClientError) as refused:
        ec2.delete_security_group(GroupId=group)
    assert _code(refused) == "DependencyViolation"
    assert group in str(refused.value)
    elbv2.delete_load_balancer(LoadBalancerArn=balancer)
    ec2.delete_security_group(GroupId=group)
    with pytest.raises(ClientError) as gone:
        ec2.delete_security_group(GroupId=group)
    assert _code(gone) == "InvalidGroup.NotFound"


def test_a_group_named_by_another_groups_rule_cannot_be_deleted(
    aws: AwsSandbox, world: SeededWorld
) -> None:
    ec2 = aws.client("ec2")
    source, nodes = _group(ec2, world, "source"), _group(ec2, world, "nodes")
    rule = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080}
    ec2.authorize_security_group_ingress(
        GroupId=nodes, IpPermissions=[{**rule, "UserIdGroupPairs": [{"GroupId": source}]}]
    )
    with pytest.raises(ClientError) as refused:
        ec2.delete_security_group(GroupId=source)
    assert _code(refused) == "DependencyViolation"
    ec2.revoke_security_group_ingress(
        GroupId=nodes, IpPermissions=[{**rule, "UserIdGroupPairs": [{"GroupId": source}]}]
    )
    ec2.delete_security_group(GroupId=source)


def test_describe_tags_takes_twenty_existing_arns(aws: AwsSandbox, world: SeededWorld) -> None:
    elbv2 = aws.client("elbv2")
    balancer = elbv2.create_load_balancer(Name="tagged", Subnets=list(world.public_subnet_ids))
    arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    assert elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["ResourceArn"] == arn
    with pytest.raises(ClientError) as too_many:
        elbv2.describe_tags(ResourceArns=[arn] * 21)
    assert _code(too_many) == "ValidationError"
    missing = arn.rsplit("/", 1)[0] + "/0123456789abcdef"
    with pytest.raises(ClientError) as unknown:
        elbv2.describe_tags(ResourceArns=[arn, missing])
    assert _code(unknown) == "LoadBalancerNotFound"
    elbv2.delete_load_balancer(LoadBalancerArn=arn)


def _imported(aws: AwsSandbox, name: str) -> str:
    ca = SandboxCA()
    cert, key = ca.issue([name])
    imported = aws.client("acm").import_certificate(
        Certificate=cert.encode(), PrivateKey=key.encode()
    )
    return str(imported["CertificateArn"])


def test_listeners_show_their_default_certificate_and_keep_sni_ones(
    aws: AwsSandbox, world: SeededWorld
) -> None:
    elbv2 = aws.client("elbv2")
    arn = elbv2.create_load_balancer(Name="sni", Subnets=list(world.public_subnet_ids))[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    first, second, third = (_imported(aws, f"*.{n}.example.org") for n in ("a", "b", "c"))
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]
    with pytest.raises(ClientError, match="A certificate must be specified for HTTPS listeners"):
        elbv2.create_listener(LoadBalancerArn=arn, Protocol="HTTPS", Port=443, DefaultActions=fixed)
    with pytest.raises(ClientError, match="A certificate cannot be specified for HTTP listeners"):
        elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTP",
            Port=80,
            Certificates=[{"CertificateArn": first}],
            DefaultActions=fixed,
        )
    listener = elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": first}],
        DefaultActions=fixed,
    )["Listeners"][0]["ListenerArn"]
    elbv2.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": third}])
    elbv2.modify_listener(ListenerArn=listener, Certificates=[{"CertificateArn": second}])
    (described,) = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"]
    assert described["Certificates"] == [{"CertificateArn": second}]
    listed = elbv2.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    assert {(c["CertificateArn"], c["IsDefault"]) for c in listed} == {
        (second, True),
        (third, False),
    }
    elbv2.delete_load_balancer(LoadBalancerArn=arn)
