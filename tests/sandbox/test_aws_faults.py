"""The fault-injecting layer: protocol-correct throttling, 5xx and lost answers, seeded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from sandbox.aws import AwsSandbox
from sandbox.aws.faults import FaultPlan, parse_faults
from sandbox.aws.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY

CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "iam": ("list_roles", {}),
    "sts": ("get_caller_identity", {}),
    "route53": ("list_hosted_zones", {}),
    "elbv2": ("describe_load_balancers", {}),
    "ec2": ("describe_vpcs", {}),
    "acm": ("list_certificates", {}),
    "eks": ("list_clusters", {}),
}
THROTTLE_CODES = {"ec2": ("RequestLimitExceeded", 503), "acm": ("ThrottlingException", 400),
                  "eks": ("ThrottlingException", 400)}  # fmt: skip


def _client(aws: AwsSandbox, service: str, *, ours: bool = True) -> Any:
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        user_agent_extra="kubeflow-alb" if ours else "someone-else",
    )
    return boto3.Session(
        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
    ).client(service, endpoint_url=aws.endpoint_url, region_name=aws.region, config=config)


@pytest.fixture
def faulty() -> Iterator[Any]:
    started: list[AwsSandbox] = []

    def start(**rates: float) -> AwsSandbox:
        aws = AwsSandbox(account_id=f"1111111100{40 + len(started)}", faults=FaultPlan(**rates))
        started.append(aws.start())
        return aws

    yield start
    for aws in started:
        aws.stop()


def _error(aws: AwsSandbox, service: str) -> tuple[str, int, str]:
    operation, kwargs = CALLS[service]
    with pytest.raises(ClientError) as caught:
        getattr(_client(aws, service), operation)(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def test_every_protocol_gets_its_own_throttling_error(faulty: Any) -> None:
    aws = faulty(throttle=1.0)
    for service in CALLS:
        code, status, message = _error(aws, service)
        assert (code, status) == THROTTLE_CODES.get(service, ("Throttling", 400)), service
        assert message in ("Rate exceeded", "Request limit exceeded."), service
    assert aws.faults is not None
    assert aws.faults.injected["throttle"] == len(CALLS)


def test_server_errors_are_500_or_503_in_every_protocol(faulty: Any) -> None:
    aws = faulty(error5xx=1.0, seed=3)
    seen = set()
    for service in CALLS:
        for _ in range(3):
            code, status, _ = _error(aws, service)
            expected = {"InternalError": 500, "Unavailable": 503} if service == "ec2" else {
                "InternalFailure": 500, "ServiceUnavailable": 503}  # fmt: skip
            assert expected.get(code) == status, (service, code, status)
            seen.add(status)
    assert seen == {500, 503}


def test_other_clients_are_never_faulted(faulty: Any) -> None:
    aws = faulty(throttle=1.0)
    assert _client(aws, "sts", ours=False).get_caller_identity()["Account"] == aws.account_id


def test_drop_after_apply_applies_the_request_and_loses_the_answer(faulty: Any) -> None:
    aws = faulty(drop_after_apply=1.0, seed=5)
    iam, lost = _client(aws, "iam"), []
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]})  # fmt: skip
    for index in range(6):
        try:
            iam.create_policy(PolicyName=f"p{index}", PolicyDocument=document)
        except ConnectionClosedError:
            lost.append("reset")
        except ClientError as error:
            lost.append(error.response["Error"]["Code"])
    assert sorted(set(lost)) == ["InternalFailure", "reset"]  # both ways of losing it, seeded
    names = [p["PolicyName"] for p in _client(aws, "iam", ours=False).list_policies(
        Scope="Local")["Policies"]]  # fmt: skip
    assert sorted(names) == [f"p{index}" for index in range(6)]  # every one was applied


def test_the_die_is_seeded() -> None:
    first, second = FaultPlan(throttle=0.3, error5xx=0.1, seed=9), FaultPlan(throttle=0.3,
                                                                            error5xx=0.1, seed=9)  # fmt: skip
    assert [first.roll() for _ in range(50)] == [second.roll() for _ in range(50)]
    faults = [kind for kind, _ in (first.roll() for _ in range(2000))]
    assert 0.25 < faults.count("throttle") / 2000 < 0.35


def test_parse_faults() -> None:
    plan = parse_faults("throttle=0.3,error5xx=0.05,drop-after-apply=0.05,seed=7")
    assert (plan.throttle, plan.error5xx, plan.drop_after_apply, plan.seed) == (0.3, 0.05, 0.05, 7)
    assert plan.describe() == "throttle=0.3,error5xx=0.05,drop-after-apply=0.05,seed=7"
    for bad in ("throttle=2", "throttle=0.6,error5xx=0.6", "jitter=0.1", "throttle=x"):
        with pytest.raises(ValueError):
            parse_faults(bad)


def test_each_protocol_names_its_operation(faulty: Any) -> None:
    aws = faulty()
    assert aws.faults is not None
    seen: list[str] = []
    aws.faults.arm_kill(lambda request: seen.append(request.describe()) or False, hook=None)
    _client(aws, "iam").list_roles()
    _client(aws, "route53").list_hosted_zones()
    _client(aws, "route53").create_hosted_zone(Name="a.example.com", CallerReference="r1")
    _client(aws, "acm").list_certificates()
    _client(aws, "ec2").describe_vpcs()
    _client(aws, "eks").list_clusters()
    assert seen == ["iam:ListRoles", "route53:ListHostedZones", "route53:CreateHostedZone",
                    "acm:ListCertificates", "ec2:DescribeVpcs", "eks:ListClusters"]  # fmt: skip


def test_a_rule_loses_the_answer_of_its_operation_only_and_only_once(faulty: Any) -> None:
    aws = faulty()
    assert aws.faults is not None
    aws.faults.lose_answer("CreateHostedZone", how="500")
    route53 = _client(aws, "route53")
    route53.list_hosted_zones()  # not the operation: answered
    with pytest.raises(ClientError, match="InternalFailure"):
        route53.create_hosted_zone(Name="a.example.com", CallerReference="r1")
    route53.create_hosted_zone(Name="b.example.com", CallerReference="r2")  # spent: answered
    names = {z["Name"] for z in _client(aws, "route53", ours=False).list_hosted_zones()[
        "HostedZones"]}  # fmt: skip
    assert {"a.example.com.", "b.example.com."} <= names  # the lost one was applied
    assert aws.faults.lost == ["route53:CreateHostedZone"]


def test_every_write_loses_its_first_answer_and_its_resend_is_answered(faulty: Any) -> None:
    aws = faulty()
    assert aws.faults is not None
    aws.faults.lose_answer("*", how="reset")
    iam = _client(aws, "iam")
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]})  # fmt: skip
    iam.list_roles()  # reads are never lost
    with pytest.raises(ConnectionClosedError):
        iam.create_policy(PolicyName="p1", PolicyDocument=document)
    with pytest.raises(ClientError, match="EntityAlreadyExists"):  # the same call, sent again
        iam.create_policy(PolicyName="p1", PolicyDocument=document)
    with pytest.raises(ConnectionClosedError):  # another write: its first answer is lost too
        iam.create_policy(PolicyName="p2", PolicyDocument=document)
    assert aws.faults.lost == ["iam:CreatePolicy", "iam:CreatePolicy"]


def test_kill_at_applies_the_call_then_kills_and_refuses_what_follows(faulty: Any) -> None:
    aws = faulty()
    assert aws.faults is not None
    kills: list[str] = []
    aws.faults.arm_kill(lambda r: r.operation == "CreateHostedZone", hook=lambda: kills.append("x"))
    route53 = _client(aws, "route53")
    route53.list_hosted_zones()
    with pytest.raises(ConnectionClosedError):
        route53.create_hosted_zone(Name="k1.example.com", CallerReference="k1")
    with pytest.raises(ConnectionClosedError):  # the dead process's last requests: not applied
        route53.create_hosted_zone(Name="b.example.com", CallerReference="r2")
    assert (kills, aws.faults.killed) == (["x"], ["route53:CreateHostedZone"])
    names = {z["Name"] for z in _client(aws, "route53", ours=False).list_hosted_zones()[
        "HostedZones"]}  # fmt: skip
    assert ("k1.example.com." in names, "k2.example.com." in names) == (True, False)
    aws.faults.disarm()
    route53.create_hosted_zone(Name="k2.example.com", CallerReference="k2")


def test_parse_operation_rules() -> None:
    plan = parse_faults("drop-after-apply=CreateHostedZone,drop-after-apply:CreateRole=2,"
                        "drop-after-apply=*,kill-at=CreatePolicy,kill-group=4242")  # fmt: skip
    assert [(rule.operation, rule.times) for rule in plan.rules] == [
        ("CreateHostedZone", 1), ("CreateRole", 2), ("*", 1)]  # fmt: skip
    assert (plan.kill_at, plan.kill_group, plan.active, plan.armed) == (
        ("CreatePolicy",), 4242, True, True)  # fmt: skip
    for bad in ("drop-after-apply=createRole", "drop-after-apply:CreateRole=0", "kill-at=1"):
        with pytest.raises(ValueError):
            parse_faults(bad)
