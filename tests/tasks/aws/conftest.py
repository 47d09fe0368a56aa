"""Fixtures for the AWS task tests: a moto server, a fresh seeded world per test, fault injection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from botocore.httpsession import URLLib3Session

from core.spec import StackSpec, parse_spec
from sandbox.aws import AwsSandbox
from sandbox.aws.faults import FaultPlan
from sandbox.aws.seed import seed_root_zone
from sandbox.aws.server import reset_account
from tasks.aws import clients
from tasks.aws.clients import AwsContext

REGION = "us-west-2"
#: An account of our own in the process-wide moto, so resets never touch other tests' worlds.
ACCOUNT = "210987654321"
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
def sandbox() -> Iterator[AwsSandbox]:
    """The strict AWS sandbox (moto in server mode), with an account of its own for these tests;
    its fault layer is idle until a test gives it rules (`network`)."""
    with AwsSandbox(account_id=ACCOUNT, acm_validation_delay=0.0, faults=FaultPlan()) as running:
        yield running


@pytest.fixture
def network(sandbox: AwsSandbox) -> Iterator[FaultPlan]:
    """The sandbox's fault layer (seen by the tasks' clients only), reliable again afterwards."""
    assert sandbox.faults is not None
    sandbox.faults.clear()
    yield sandbox.faults
    sandbox.faults.clear()


@pytest.fixture(autouse=True)
def aws_env(sandbox: AwsSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Point boto3 at the sandbox with its dummy credentials; empty our account; short waits."""
    env = {
        **sandbox.env(),
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
        "KFALB_ROUTE53_RATE": "100",  # the budget has tests of its own
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_RETRY_MODE"):
        monkeypatch.delenv(key, raising=False)
    # Only our account: other sandboxes in this process keep their state.
    reset_account(sandbox.account_id)
    clients.reset_sessions()
    yield
    clients.reset_sessions()


@pytest.fixture
def ctx() -> AwsContext:
    return AwsContext(region=REGION)


@pytest.fixture
def spec() -> StackSpec:
    return parse_spec(json.loads(json.dumps(CONFIG)))


@pytest.fixture
def boto(sandbox: AwsSandbox) -> Callable[[str], Any]:
    """`boto(service)`: a plain boto3 client for seeding and checking the world."""
    return sandbox.client


@dataclass
class World:
    """What `world` seeded: a VPC with public and private subnets, the cluster, the root zone."""

    vpc_id: str
    public_subnets: list[str]
    private_subnets: list[str]
    root_zone_id: str
    cluster_name: str = CLUSTER


@pytest.fixture
def root_zone_id(sandbox: AwsSandbox) -> str:
    """A public hosted zone for example.com, the root domain (with one unrelated record)."""
    return seed_root_zone(sandbox.client("route53"), "example.com")


@pytest.fixture
def world(sandbox: AwsSandbox) -> World:
    """The sandbox's world: public (IGW) and private (NAT) subnets, EKS cluster, root zone."""
    seeded = sandbox.seed_world(cluster_name=CLUSTER)
    assert seeded.root_zone_id is not None
    return World(
        vpc_id=seeded.vpc_id,
        public_subnets=list(seeded.public_subnet_ids),
        private_subnets=list(seeded.private_subnet_ids),
        root_zone_id=seeded.root_zone_id,
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


#: botocore event names use the hyphenated service id.
_EVENT_SERVICE = {"route53": "route-53", "elbv2": "elastic-load-balancing-v2"}


@dataclass
class Faults:
    """Inject AWS errors that moto does not raise, through a botocore before-send handler."""

    ctx: AwsContext
    registered: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    #: (operation, HTTP status) of each request let through whose answer was then lost.
    applied: list[tuple[str, int]] = field(default_factory=list)

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
        remaining = [times]

        def handler(**_: Any) -> Any:
            self.sent.append(operation)
            if remaining[0] is not None:
                if remaining[0] <= 0:
                    return None
                remaining[0] -= 1
            return error_response(protocol, code, message, status)

        self.add(f"before-send.{_EVENT_SERVICE.get(service, service)}.{operation}", handler)

    def respond(self, service: str, operation: str, body: bytes, *, status: int = 200) -> None:
        """Answer every `operation` call with this raw body (e.g. a state moto cannot reach)."""
        kind = "application/x-amz-json-1.1" if service == "acm" else "text/xml"

        def handler(**_: Any) -> Any:
            self.sent.append(operation)
            return AWSResponse("https://injected", status, {"Content-Type": kind}, _Body(body))

        self.add(f"before-send.{_EVENT_SERVICE.get(service, service)}.{operation}", handler)

    def lose_answer(
        self, service: str, operation: str, *, times: int = 1, how: str = "error500"
    ) -> None:
        """Let `operation` through to the sandbox (so AWS applies it), then lose the answer:
        a 500 InternalFailure (`error500`) or a reset connection (`reset`), the first `times`
        sends. botocore then retries the call, as it would against AWS."""
        protocol = {"acm": "json", "ec2": "ec2"}.get(service, "xml")
        remaining = [times]
        sender = URLLib3Session()

        def handler(request: Any, **_: Any) -> Any:
            self.sent.append(operation)
            if remaining[0] <= 0:
                return None
            remaining[0] -= 1
            applied = sender.send(request)  # the write happens...
            self.applied.append((operation, applied.status_code))
            if how == "reset":  # ...and the connection drops before the answer arrives
                raise ConnectionClosedError(endpoint_url=request.url)
            return error_response(
                protocol,
                "InternalFailure",
                "We encountered an internal error. Please try again.",
                500,
            )

        self.add(f"before-send.{_EVENT_SERVICE.get(service, service)}.{operation}", handler)

    def add(self, event: str, handler: Callable[..., Any]) -> None:
        clients.session(self.ctx).events.register(event, handler)
        self.registered.append((event, handler))
        clients.reset_clients()  # a client takes its session's handlers when made

    def clear(self) -> None:
        for event, handler in self.registered:
            clients.session(self.ctx).events.unregister(event, handler)
        self.registered.clear()
        clients.reset_clients()


@pytest.fixture
def faults(ctx: AwsContext) -> Iterator[Faults]:
    injected = Faults(ctx)
    yield injected
    injected.clear()


def _mutating_calls_during(action: Callable[[], Any]) -> list[str]:
    before = clients.api_calls()
    action()
    after = clients.api_calls().since(before)
    return [f"{c.service}:{c.operation}" for c in after.mutating_calls() for _ in range(c.count)]


@pytest.fixture
def mutations() -> Callable[[Callable[[], Any]], list[str]]:
    """`mutations(action)` runs action and returns the mutating AWS operations it called."""
    return _mutating_calls_during


def _issue(sandbox: AwsSandbox, zone_id: str, domain: str) -> str:
    """Request a DNS-validated certificate for a name in `zone_id` and let ACM issue it."""
    acm, route53 = sandbox.client("acm"), sandbox.client("route53")
    arn = str(acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"])
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
    record = options[0]["ResourceRecord"]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record["Name"],
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": record["Value"]}],
                    },
                }
            ]
        },
    )
    status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
    assert status == "ISSUED", status
    return arn


@pytest.fixture
def issued_certificate(sandbox: AwsSandbox) -> Callable[[str, str], str]:
    """`issued_certificate(zone_id, domain)`: an ISSUED certificate not made by this stack."""
    return lambda zone_id, domain: _issue(sandbox, zone_id, domain)
