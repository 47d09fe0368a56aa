"""ACM issuance gate and ELBv2 realism in the AWS sandbox, checked through boto3."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox, SeededWorld

DELAY = 0.2
_n = itertools.count()


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    sandbox = AwsSandbox(account_id="111111110002", acm_validation_delay=DELAY).start()
    sandbox.seed_world()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def world(aws: AwsSandbox) -> SeededWorld:
    assert aws.world is not None
    return aws.world


@pytest.fixture(scope="module")
def clients(aws: AwsSandbox) -> dict[str, Any]:
    return {name: aws.client(name) for name in ("acm", "route53", "elbv2", "ec2")}


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def request(acm: Any, domain: str, *sans: str, method: str | None = "DNS") -> str:
    extra: dict[str, Any] = {"ValidationMethod": method} if method else {}
    if sans:
        extra["SubjectAlternativeNames"] = list(sans)
    return str(acm.request_certificate(DomainName=domain, **extra)["CertificateArn"])


def describe(acm: Any, arn: str) -> dict[str, Any]:
    return dict(acm.describe_certificate(CertificateArn=arn)["Certificate"])


def status(acm: Any, arn: str) -> str:
    return str(describe(acm, arn)["Status"])


def upsert(r53: Any, zone_id: str, name: str, rtype: str, *values: str) -> None:
    record = {
        "Name": name,
        "Type": rtype,
        "TTL": 300,
        "ResourceRecords": [{"Value": v} for v in values],
    }
    batch = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)


def publish_validation(r53: Any, zone_id: str, certificate: dict[str, Any]) -> None:
    for option in certificate["DomainValidationOptions"]:
        rr = option["ResourceRecord"]
        upsert(r53, zone_id, rr["Name"], rr["Type"], rr["Value"])


def test_pending_until_the_record_exists_then_issued(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    acm, r53 = clients["acm"], clients["route53"]
    arn = request(acm, f"kf{next(_n)}.example.com")
    shown = describe(acm, arn)
    assert shown["Status"] == "PENDING_VALIDATION"
    assert "NotAfter" not in shown
    record = shown["DomainValidationOptions"][0]["ResourceRecord"]
    assert record["Type"] == "CNAME"
    assert record["Value"].endswith(".acm-validations.aws.")
    time.sleep(DELAY * 2)
    assert status(acm, arn) == "PENDING_VALIDATION"
    assert world.root_zone_id is not None
    publish_validation(r53, world.root_zone_id, shown)
    assert eventually(lambda: status(acm, arn) == "ISSUED")
    issued = describe(acm, arn)
    assert issued["DomainValidationOptions"][0]["ValidationStatus"] == "SUCCESS"
    assert "NotAfter" in issued


def test_wildcard_shares_the_record_of_its_base_domain(clients: dict[str, Any]) -> None:
    acm = clients["acm"]
    base = f"sub{next(_n)}.example.com"
    both = describe(acm, request(acm, f"*.{base}", base))
    alone = describe(acm, request(acm, base))
    other = describe(acm, request(acm, f"other{next(_n)}.example.com"))
    records = [option["ResourceRecord"] for option in both["DomainValidationOptions"]]
    assert [option["DomainName"] for option in both["DomainValidationOptions"]] == [
        f"*.{base}",
        base,
    ]
    assert records[0] == records[1] == alone["DomainValidationOptions"][0]["ResourceRecord"]
    assert records[0]["Name"].endswith(f".{base}.")
    assert other["DomainValidationOptions"][0]["ResourceRecord"] != records[0]


def test_record_in_a_subdomain_zone_counts_only_once_delegated(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    acm, r53 = clients["acm"], clients["route53"]
    sub = f"deleg{next(_n)}.example.com"
    zone = r53.create_hosted_zone(Name=sub, CallerReference=f"ref-{sub}")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    arn = request(acm, f"*.{sub}")
    publish_validation(r53, zone_id, describe(acm, arn))
    time.sleep(DELAY * 2)
    assert status(acm, arn) == "PENDING_VALIDATION"
    assert world.root_zone_id is not None
    upsert(r53, world.root_zone_id, sub, "NS", *zone["DelegationSet"]["NameServers"])
    assert eventually(lambda: status(acm, arn) == "ISSUED")


def test_dns_check_decides_when_given() -> None:
    asked: list[tuple[str, str, str]] = []
    visible: set[str] = set()

    def dns_check(name: str, rtype: str, value: str) -> bool:
        asked.append((name, rtype, value))
        return name in visible

    with AwsSandbox(
        account_id="111111110007", acm_validation_delay=0.0, dns_check=dns_check
    ) as aws:
        acm = aws.client("acm")
        arn = request(acm, "checked.example.net")
        record = describe(acm, arn)["DomainValidationOptions"][0]["ResourceRecord"]
        assert status(acm, arn) == "PENDING_VALIDATION"
        assert (record["Name"], "CNAME", record["Value"]) in asked
        visible.add(record["Name"])
        assert status(acm, arn) == "ISSUED"


def test_without_dns_validation_method_it_is_an_email_certificate(clients: dict[str, Any]) -> None:
    acm = clients["acm"]
    arn = request(acm, f"mail{next(_n)}.example.com", method=None)
    time.sleep(DELAY * 2)
    shown = describe(acm, arn)
    assert shown["Status"] == "PENDING_VALIDATION"
    assert shown["DomainValidationOptions"][0]["ValidationMethod"] == "EMAIL"
    assert "ResourceRecord" not in shown["DomainValidationOptions"][0]


def test_idempotency_token_returns_the_same_certificate_until_deleted(
    clients: dict[str, Any],
) -> None:
    acm = clients["acm"]
    domain = f"token{next(_n)}.example.com"
    ask = {"DomainName": domain, "ValidationMethod": "DNS", "IdempotencyToken": f"tok{next(_n)}"}
    first = acm.request_certificate(**ask)["CertificateArn"]
    assert acm.request_certificate(**ask)["CertificateArn"] == first
    acm.delete_certificate(CertificateArn=first)
    assert acm.request_certificate(**ask)["CertificateArn"] != first


def make_load_balancer(clients: dict[str, Any], world: SeededWorld, name: str) -> dict[str, Any]:
    created = clients["elbv2"].create_load_balancer(
        Name=name,
        Subnets=list(world.public_subnet_ids),
        Scheme="internet-facing",
        Type="application",
    )
    return dict(created["LoadBalancers"][0])


def issued_certificate(clients: dict[str, Any], world: SeededWorld) -> str:
    acm = clients["acm"]
    arn = request(acm, f"lb{next(_n)}.example.com")
    assert world.root_zone_id is not None
    publish_validation(clients["route53"], world.root_zone_id, describe(acm, arn))
    assert eventually(lambda: status(acm, arn) == "ISSUED")
    return arn


def https_listener(elbv2: Any, lb_arn: str, cert_arn: str) -> str:
    listener = elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    return str(listener["Listeners"][0]["ListenerArn"])


def test_certificate_in_use_cannot_be_deleted_and_lists_the_load_balancer(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    acm, elbv2 = clients["acm"], clients["elbv2"]
    cert = issued_certificate(clients, world)
    lb = make_load_balancer(clients, world, f"k8s-inuse-{next(_n)}")
    listener = https_listener(elbv2, lb["LoadBalancerArn"], cert)
    assert describe(acm, cert)["InUseBy"] == [lb["LoadBalancerArn"]]
    with pytest.raises(ClientError) as excinfo:
        acm.delete_certificate(CertificateArn=cert)
    assert excinfo.value.response["Error"]["Code"] == "ResourceInUseException"
    elbv2.delete_listener(ListenerArn=listener)
    acm.delete_certificate(CertificateArn=cert)


def test_listener_refuses_a_certificate_not_yet_issued(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    pending = request(clients["acm"], f"early{next(_n)}.example.com")
    lb = make_load_balancer(clients, world, f"k8s-early-{next(_n)}")
    with pytest.raises(ClientError) as excinfo:
        https_listener(clients["elbv2"], lb["LoadBalancerArn"], pending)
    assert excinfo.value.response["Error"]["Code"] == "CertificateNotFound"


def test_load_balancer_looks_real_and_waits_for_its_state(
    aws: AwsSandbox, clients: dict[str, Any], world: SeededWorld
) -> None:
    elbv2 = clients["elbv2"]
    lb = make_load_balancer(clients, world, "k8s-istiosys-istioing-0a1b2c3d4e")
    assert re.fullmatch(
        r"k8s-istiosys-istioing-0a1b2c3d4e-\d{10}\.us-west-2\.elb\.amazonaws\.com", lb["DNSName"]
    )
    assert lb["CanonicalHostedZoneId"] == "Z1H1FL5HABSF5"

    def state() -> str:
        found = elbv2.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])
        return str(found["LoadBalancers"][0]["State"]["Code"])

    assert state() == "provisioning"
    assert state() == "provisioning"
    aws.set_load_balancer_state(lb["LoadBalancerArn"], "active")
    assert state() == "active"


def test_alias_must_name_the_load_balancer_in_its_canonical_zone(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    r53 = clients["route53"]
    lb = make_load_balancer(clients, world, f"k8s-alias-{next(_n)}")
    assert world.root_zone_id is not None

    def alias(zone_id: str) -> None:
        target = {
            "HostedZoneId": zone_id,
            "DNSName": f"dualstack.{lb['DNSName']}",
            "EvaluateTargetHealth": True,
        }
        record = {"Name": f"alias{next(_n)}.example.com", "Type": "A", "AliasTarget": target}
        batch = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
        r53.change_resource_record_sets(HostedZoneId=world.root_zone_id, ChangeBatch=batch)

    alias(lb["CanonicalHostedZoneId"])
    with pytest.raises(ClientError) as excinfo:
        alias("Z35SXDOTRQ7X7K")
    assert excinfo.value.response["Error"]["Code"] == "InvalidChangeBatch"


def test_load_balancer_takes_fifty_tags_not_more(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    elbv2 = clients["elbv2"]
    arn = make_load_balancer(clients, world, f"k8s-tags-{next(_n)}")["LoadBalancerArn"]
    elbv2.add_tags(ResourceArns=[arn], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    with pytest.raises(ClientError) as excinfo:
        elbv2.add_tags(ResourceArns=[arn], Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert excinfo.value.response["Error"]["Code"] == "TooManyTags"


def test_same_load_balancer_twice_is_one_and_a_clash_is_refused(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    name = f"k8s-twice-{next(_n)}"
    first = make_load_balancer(clients, world, name)
    assert make_load_balancer(clients, world, name)["LoadBalancerArn"] == first["LoadBalancerArn"]
    with pytest.raises(ClientError) as excinfo:
        clients["elbv2"].create_load_balancer(
            Name=name, Subnets=list(world.private_subnet_ids), Scheme="internal"
        )
    assert excinfo.value.response["Error"]["Code"] == "DuplicateLoadBalancerName"
    found = clients["elbv2"].describe_load_balancers(Names=[name])["LoadBalancers"]
    assert len(found) == 1


def test_alb_attributes_are_all_listed_with_aws_defaults(
    clients: dict[str, Any], world: SeededWorld
) -> None:
    elbv2 = clients["elbv2"]
    arn = make_load_balancer(clients, world, f"k8s-attrs-{next(_n)}")["LoadBalancerArn"]

    def attributes() -> dict[str, str]:
        found = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
        return {a["Key"]: a["Value"] for a in found}

    before = attributes()
    assert before["routing.http.drop_invalid_header_fields.enabled"] == "false"
    assert before["idle_timeout.timeout_seconds"] == "60"
    assert before["routing.http2.enabled"] == "true"
    assert before["load_balancing.cross_zone.enabled"] == "true"  # always on for an ALB
    assert before["ipv6.deny_all_igw_traffic"] == "false"  # internet-facing
    key = "routing.http.drop_invalid_header_fields.enabled"
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": key, "Value": "true"}]
    )
    assert attributes() == {**before, key: "true"}


def test_only_tls_listeners_have_an_ssl_policy(clients: dict[str, Any], world: SeededWorld) -> None:
    elbv2 = clients["elbv2"]
    arn = make_load_balancer(clients, world, f"k8s-policy-{next(_n)}")["LoadBalancerArn"]
    https = https_listener(elbv2, arn, issued_certificate(clients, world))
    redirect = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
    http = elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": redirect}],
    )["Listeners"][0]
    assert "SslPolicy" not in http
    elbv2.modify_listener(ListenerArn=https, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
    listed = {
        item["Port"]: item for item in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
    }
    assert listed[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert "SslPolicy" not in listed[80]


@pytest.mark.parametrize(
    ("domain", "sans", "message"),
    [
        (
            "*." + "a" * 60 + ".example.com",
            None,
            "The first domain name can be no longer than 64 characters.",
        ),
        (
            ("abcdefghi." * 26) + "example.com",
            None,
            "at 'domainName' failed to satisfy constraint: Member must have length less than or "
            "equal to 253",
        ),
        (
            "ok.example.com",
            ["a" * 64 + ".example.com"],
            "at 'subjectAlternativeNames' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern",
        ),
    ],
    ids=["first-name-over-64", "over-253", "label-over-63"],
)
def test_acm_refuses_names_it_cannot_issue_with_a_validation_exception(
    clients: dict[str, Any], domain: str, sans: list[str] | None, message: str
) -> None:
    from botocore.exceptions import ClientError

    extra = {"SubjectAlternativeNames": [domain, *sans]} if sans else {}
    with pytest.raises(ClientError) as caught:
        clients["acm"].request_certificate(DomainName=domain, ValidationMethod="DNS", **extra)
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in error["Error"]["Message"]


def test_a_long_name_fits_as_a_san_behind_a_short_first_name(clients: dict[str, Any]) -> None:
    long_san = "*." + "a" * 60 + ".example.com"  # 74 characters: too long only as DomainName
    arn = request(clients["acm"], "short.example.com", long_san)
    assert long_san in describe(clients["acm"], arn)["SubjectAlternativeNames"]
