"""AwsSandbox: moto in server mode on 127.0.0.1, made as strict as AWS where it matters here.

Clients reach it only through boto3 with ``AWS_ENDPOINT_URL`` (see ``env()``); the world's
levers (cluster status, load balancer state, Route53 data for the DNS server) are methods
here, working on moto's in-process backends.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict
from types import TracebackType
from typing import Any

import boto3
from moto.core.base_backend import BackendDict, backend_lock
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from sandbox.aws import (
    acm,
    dns_view,
    ec2,
    eks,
    eks_pod_identity,
    elbv2,
    elbv2_attributes,
    elbv2_listeners,
    iam,
    route53_changes,
    route53_zones,
    sts,
)
from sandbox.aws.accounts import AccountKeys, create_account, forget, limit_route53
from sandbox.aws.faults import FaultMiddleware, FaultPlan
from sandbox.aws.hooks import DnsCheck, Realism, StrictMiddleware
from sandbox.aws.seed import RootAccount, SeededWorld, seed, seed_root_account

# The world runs no EC2 instances, so it needs none of moto's default AMIs: loading them (with a
# volume and a snapshot each) costs about a second of CPU for every account and region reset.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
_logger = logging.getLogger(__name__)


def reset_account(account_id: str) -> None:
    """moto's reset, for one account only: other sandboxes in the process keep their state."""
    with backend_lock:
        instances: list[Any] = list(BackendDict._instances)  # type: ignore[misc]
        for backends in instances:
            if account_id in list(backends.keys()):
                backends[account_id].reset()


def install_rules() -> None:
    """Wrap moto's methods once per process; they stay inert outside sandbox requests."""
    for module in (
        route53_zones,
        route53_changes,
        acm,
        elbv2,
        elbv2_attributes,
        elbv2_listeners,
        iam,
        ec2,
        eks,
        eks_pod_identity,
        sts,
    ):
        module.install()


class _StrictMotoServer(ThreadedMotoServer):
    """moto's threaded server with the sandbox's middleware in front of the app."""

    def __init__(
        self, ip_address: str, port: int, realism: Realism, faults: FaultPlan | None = None
    ) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._realism = realism
        self._faults = faults

    def _server_entry(self) -> None:
        app: Any = StrictMiddleware(DomainDispatcherApplication(create_backend_app), self._realism)
        if self._faults is not None:  # an idle plan may get rules later (it checks per request)
            app = FaultMiddleware(app, self._faults)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class AwsSandbox:
    """The AWS side of the stand-in world.

    Args:
        host: address to bind; keep 127.0.0.1.
        port: 0 picks a free port.
        region: the region of the seeded world and of ``env()``.
        account_id: the account every request is served from (moto keeps one set of
            backends per account, so sandboxes with different accounts do not meet).
        acm_validation_delay: seconds before a certificate whose records are visible is ISSUED.
        dns_check: ``(name, "CNAME", value) -> bool``; when given, decides whether a
            validation record is visible (else Route53 is read, following delegations).
        route53_sync_delay: seconds a Route53 change stays PENDING before INSYNC.
        alb_activation_delay: seconds before a new load balancer turns ``active`` by itself;
            None leaves it ``provisioning`` until ``set_load_balancer_state``.
        faults: throttling, 5xx and lost answers to inject into kubeflow-alb's requests
            (see ``sandbox.aws.faults``); None for a reliable network.
        route53_rate: enforce AWS's Route53 limit: more requests per second per account are
            answered ``Throttling`` / 400 "Rate exceeded"; None: no limit.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-west-2",
        account_id: str = DEFAULT_ACCOUNT_ID,
        acm_validation_delay: float = 1.0,
        dns_check: DnsCheck | None = None,
        route53_sync_delay: float = 0.0,
        alb_activation_delay: float | None = None,
        faults: FaultPlan | None = None,
        route53_rate: float | None = None,
    ) -> None:
        self.host, self.port, self.region = host, port, region
        self.faults = faults
        self.account_id = account_id
        self.realism = Realism(
            region=region,
            account_id=account_id,
            acm_validation_delay=acm_validation_delay,
            dns_check=dns_check,
            route53_sync_delay=route53_sync_delay,
            alb_activation_delay=alb_activation_delay,
        )
        self.route53_rate = route53_rate
        self._server: _StrictMotoServer | None = None
        # One boto3 session for this sandbox's own clients: a session costs about as much as a
        # client to make, and is not safe to make clients from in two threads at once.
        self._boto_session: boto3.Session | None = None
        self._boto_lock = threading.Lock()
        self._seed_args: dict[str, Any] | None = None
        self.world: SeededWorld | None = None
        self._root_args: dict[str, Any] | None = None
        #: The root zone's own account (`seed_root_account`), if one was seeded.
        self.root_account: RootAccount | None = None
        #: Accounts added besides the sandbox's own, by account id (see ``add_account``).
        self.accounts: dict[str, AccountKeys] = {}

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> AwsSandbox:
        if self._server is not None:
            return self
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        install_rules()
        self._server = _StrictMotoServer(self.host, self.port, self.realism, self.faults)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        limit_route53(self.account_id, self.route53_rate)
        _logger.info("AWS sandbox listening on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        forget(list(self.accounts.values()))
        for account in (self.account_id, *self.accounts):
            limit_route53(account, None)
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> AwsSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and the AWS CLI) at the sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str, *, account: str | None = None) -> Any:
        """A boto3 client for the sandbox (for tests and the world's own stand-ins); `account`:
        act in that account instead of the sandbox's (moto's account header)."""
        with self._boto_lock:
            made = self._session().client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url, region_name=self.region
            )
        if account is not None:

            def in_account(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account

            made.meta.events.register("before-sign", in_account)
        return made

    def _session(self) -> boto3.Session:
        """The sandbox's own session (callers hold ``_boto_lock`` while making clients)."""
        if self._boto_session is None:
            self._boto_session = boto3.Session(
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
                region_name=self.region,
            )
        return self._boto_session

    def reset(self) -> SeededWorld | None:
        """Forget everything in this sandbox's account, then seed the last seeded world again.

        Unlike ``POST /moto-api/reset`` (which empties every account of every moto in the
        process), this leaves other sandboxes and ``mock_aws`` users alone.
        """
        reset_account(self.account_id)
        self.world = None
        if self._root_args is not None:
            reset_account(self._root_args["account_id"])
            self.seed_root_account(**self._root_args)
        if self._seed_args is not None:
            return self.seed_world(**self._seed_args)
        return None

    # --- the world -----------------------------------------------------------------------

    def seed_world(
        self,
        *,
        cluster_name: str = "kubeflow",
        k8s_endpoint: str | None = None,
        k8s_ca_pem: bytes | None = None,
        root_domain: str = "example.com",
        root_in_route53: bool = True,
        pod_identity_agent: bool = True,
    ) -> SeededWorld:
        """VPC, subnets, an ACTIVE EKS cluster (with the eks-pod-identity-agent add-on unless
        `pod_identity_agent` is False) and (optionally) the public root zone."""
        self._seed_args = {
            "cluster_name": cluster_name,
            "k8s_endpoint": k8s_endpoint,
            "k8s_ca_pem": k8s_ca_pem,
            "root_domain": root_domain,
            "root_in_route53": root_in_route53,
            "pod_identity_agent": pod_identity_agent,
        }
        world = seed(
            self.client,
            region=self.region,
            cluster_name=cluster_name,
            root_domain=root_domain,
            root_in_route53=root_in_route53,
            pod_identity_agent=pod_identity_agent,
        )
        self.set_cluster_endpoint(k8s_endpoint, k8s_ca_pem, cluster_name=cluster_name)
        self.world = world
        _logger.info("AWS sandbox seeded: %s", asdict(world))
        return world

    def seed_root_account(
        self, account_id: str, *, root_domain: str = "example.com", external_id: str | None = None
    ) -> RootAccount:
        """The public root zone in an account of its own, with the role `kfalb-root-dns` there
        that trusts this sandbox's account (ExternalId required when given). Seed the workload
        world with ``root_in_route53=False`` then, so the root zone exists once."""
        self._root_args = {
            "account_id": account_id,
            "root_domain": root_domain,
            "external_id": external_id,
        }
        self.root_account = seed_root_account(
            self.client("route53", account=account_id),
            self.client("iam", account=account_id),
            account_id=account_id,
            workload_account=self.account_id,
            root_domain=root_domain,
            external_id=external_id,
        )
        _logger.info("AWS sandbox root account seeded: %s", asdict(self.root_account))
        return self.root_account

    def set_cluster_endpoint(
        self, endpoint: str | None, ca_pem: bytes | None, *, cluster_name: str = "kubeflow"
    ) -> None:
        """Point DescribeCluster's endpoint / certificateAuthority at a Kubernetes API server."""
        eks.configure(self.account_id, self.region, cluster_name, endpoint=endpoint, ca_pem=ca_pem)

    def set_cluster_status(self, status: str, *, cluster_name: str = "kubeflow") -> None:
        """E.g. ``CREATING``, ``UPDATING``, ``ACTIVE`` for preflight tests."""
        eks.configure(self.account_id, self.region, cluster_name, status=status)

    def delete_cluster(self, cluster_name: str = "kubeflow") -> None:
        eks.delete(self.account_id, self.region, cluster_name)
        eks_pod_identity.forget_cluster(self.account_id, self.region, cluster_name)

    def set_addon_status(
        self, status: str, *, addon: str = "eks-pod-identity-agent", cluster_name: str = "kubeflow"
    ) -> None:
        """An add-on's status as DescribeAddon shows it (e.g. ``DEGRADED``)."""
        eks_pod_identity.set_addon_status(self.account_id, self.region, cluster_name, addon, status)

    def set_load_balancer_state(self, arn: str, state: str) -> None:
        """What the controller stand-in calls: ``provisioning`` -> ``active`` (or ``failed``)."""
        elbv2.set_state(self.account_id, self.region, arn, state)

    def route53_zones(
        self, *, account: str | None = None
    ) -> list[tuple[str, str, bool, list[str]]]:
        """(zone id without ``/hostedzone/``, name with trailing dot, private, name servers)."""
        return [
            (zone.zone_id, zone.name, zone.private, list(zone.name_servers))
            for zone in dns_view.zones(account or self.account_id)
        ]

    def record_sets(self, zone_id: str, *, account: str | None = None) -> list[dict[str, Any]]:
        """Name (DNS form: ``*`` not ``\\052``, trailing dot), Type, TTL, ResourceRecords, AliasTarget."""
        return dns_view.record_sets(account or self.account_id, zone_id.rsplit("/", 1)[-1])

    # --- more accounts behind the same endpoint ---------------------------------------------

    def add_account(self, account_id: str, *, region: str | None = None) -> AccountKeys:
        """Credentials of another account served by this sandbox (an IAM user's access key
        made in it): requests signed with them see only that account's resources."""
        found = self.accounts.get(account_id)
        if found is None:
            found = create_account(
                self.endpoint_url, self.realism, account_id=account_id, region=region or self.region
            )
            self.accounts[account_id] = found
            limit_route53(account_id, self.route53_rate)
        return found

    def set_route53_rate(self, rate: float | None) -> None:
        """Enforce (or, None, stop enforcing) Route53's rate per account in every account here."""
        self.route53_rate = rate
        for account in (self.account_id, *self.accounts):
            limit_route53(account, rate)

    def seed_cluster(
        self,
        keys: AccountKeys,
        *,
        cluster_name: str,
        region: str,
        k8s_endpoint: str,
        k8s_ca_pem: bytes,
        root_domain: str,
        with_root_zone: bool,
    ) -> SeededWorld:
        """Another cluster (its own VPC and subnets) in the account of `keys`, and, when asked,
        that account's public root zone; made with the account's own credentials."""
        session = keys.session()
        world = seed(
            lambda service: session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url, region_name=region
            ),
            region=region,
            cluster_name=cluster_name,
            root_domain=root_domain,
            root_in_route53=with_root_zone,
        )
        eks.configure(
            keys.account_id, region, cluster_name, endpoint=k8s_endpoint, ca_pem=k8s_ca_pem
        )
        _logger.info("AWS sandbox seeded in %s: %s", keys.account_id, asdict(world))
        return world
