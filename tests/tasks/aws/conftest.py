"""Fixtures for the AWS task tests: a moto server, a fresh seeded world per test, fault injection."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto.server import ThreadedMotoServer

from core.spec import StackSpec, parse_spec
from tasks.aws import clients
from tasks.aws.clients import AwsContext

REGION = "us-west-2"
CLUSTER = "kubeflow"
CONFIG: dict[str, Any] = {
    "cluster": {"name": CLUSTER, "region": REGION},
    "route53": {
        "rootDomain": {"name": "example.com"},
        "subDomain": {"name": "platform.example.com"},
    },
    "stack": {"tags": {"team": "ml"}},
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on a free 127.0.0.1 port, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Point boto3 at the moto server with dummy credentials; reset moto; make waits short."""
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        # One send per call: tests that want botocore's retries raise this themselves.
        "AWS_MAX_ATTEMPTS": "1",
        "KFALB_POLL_INTERVAL_SECONDS": "0.01",
        "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.05",
        "KFALB_ROUTE53_TIMEOUT_SECONDS": "2",
        "KFALB_ACM_TIMEOUT_SECONDS": "2",
        "KFALB_ALB_TIMEOUT_SECONDS": "2",
        "KFALB_CLEANUP_TIMEOUT_SECONDS": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_RETRY_MODE"):
        monkeypatch.delenv(key, raising=False)
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    clients.reset_sessions()
    yield
    clients.reset_sessions()


@pytest.fixture
def ctx() -> AwsContext:
    return AwsContext(region=REGION)


@pytest.fixture
def spec() -> StackSpec:
    return parse_spec(json.loads(json.dumps(CONFIG)))


def _boto(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


@pytest.fixture
def boto() -> Callable[[str], Any]:
    """`boto(service)`: a plain boto3 client for seeding and checking the world."""
    return _boto


@dataclass
class World:
    """What `world` seeded: a VPC with public and private subnets, the cluster, the root zone."""

    vpc_id: str
    public_subnets: list[str]
    private_subnets: list[str]
    root_zone_id: str
    cluster_name: str = CLUSTER


@pytest.fixture
def root_zone_id() -> str:
    """A public hosted zone for example.com, the root domain."""
    zone = _boto("route53").create_hosted_zone(Name="example.com", CallerReference="root")
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


@pytest.fixture
def world(root_zone_id: str) -> World:
    boto = _boto
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index}.0/24")["Subnet"]["SubnetId"]
        for index in range(4)
    ]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for subnet in subnets[:2]:
        ec2.associate_route_table(RouteTableId=public_table, SubnetId=subnet)
    # subnets[2] has its own private table; subnets[3] falls back to the VPC's main table.
    private_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=private_table, SubnetId=subnets[2])
    role = boto("iam").create_role(RoleName="eks-cluster", AssumeRolePolicyDocument="{}")
    boto("eks").create_cluster(
        name=CLUSTER, roleArn=role["Role"]["Arn"], resourcesVpcConfig={"subnetIds": subnets}
    )
    return World(
        vpc_id=vpc,
        public_subnets=subnets[:2],
        private_subnets=subnets[2:],
        root_zone_id=root_zone_id,
    )


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_response(protocol: str, code: str, message: str = "injected", status: int = 400) -> Any:
    """An AWS error response as the service's wire protocol would send it."""
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.1"}
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            "</Errors><RequestID>injected</RequestID></Response>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    else:  # rest-xml (Route53) and query (IAM, ELBv2, STS)
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    return AWSResponse("https://injected", status, headers, _Body(body))


@dataclass
class Faults:
    """Inject AWS errors that moto does not raise, through a botocore before-send handler."""

    ctx: AwsContext
    registered: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def fail(
        self,
        service: str,
        operation: str,
        code: str,
        *,
        status: int = 400,
        times: int | None = None,
        message: str = "injected",
    ) -> None:
        """Answer `operation` with `code` (the first `times` sends, or always)."""
        protocol = {"acm": "json", "ec2": "ec2"}.get(service, "xml")
        event_service = {"route53": "route-53", "elbv2": "elastic-load-balancing-v2"}
        remaining = [times]

        def handler(**_: Any) -> Any:
            self.sent.append(operation)
            if remaining[0] is not None:
                if remaining[0] <= 0:
                    return None
                remaining[0] -= 1
            return error_response(protocol, code, message, status)

        self.add(f"before-send.{event_service.get(service, service)}.{operation}", handler)

    def add(self, event: str, handler: Callable[..., Any]) -> None:
        clients.session(self.ctx).events.register(event, handler)
        self.registered.append((event, handler))

    def clear(self) -> None:
        for event, handler in self.registered:
            clients.session(self.ctx).events.unregister(event, handler)
        self.registered.clear()


@pytest.fixture
def faults(ctx: AwsContext) -> Iterator[Faults]:
    injected = Faults(ctx)
    yield injected
    injected.clear()


def _mutating_calls_during(action: Callable[[], Any]) -> list[str]:
    before = clients.api_calls()
    action()
    after = clients.api_calls().since(before)
    return [f"{call.service}:{call.operation}" for call in after.mutating_calls()]


@pytest.fixture
def mutations() -> Callable[[Callable[[], Any]], list[str]]:
    """`mutations(action)` runs action and returns the mutating AWS operations it called."""
    return _mutating_calls_during
