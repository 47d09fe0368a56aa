"""The whole stand-in world: AWS, the cluster, its ALB controller, DNS and the ALB's HTTPS."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from sandbox.alb_controller import AUTO_MODE_CONTROLLER, HELM_CONTROLLER, AlbControllerStandIn
from sandbox.albcontroller.endoflife import break_end_of_life
from sandbox.albcontroller.webhooks import AlbWebhookServer
from sandbox.aws import AwsSandbox, SeededWorld
from sandbox.aws.accounts import AccountKeys
from sandbox.aws.faults import parse_faults
from sandbox.aws.seed import RootAccount
from sandbox.aws.server import reset_account
from sandbox.ca import SandboxCA
from sandbox.clusters import (
    ClusterPlace,
    SandboxCluster,
    cluster_document,
    credentials_file,
    credentials_name,
    merged_kubeconfig,
    parse_cluster,
    root_domain_of,
    start_cluster,
)
from sandbox.control import CONTROL_FILE, ControlServer
from sandbox.dns import CombinedZoneSource, DnsServer, Route53BackendSource, ZoneSource
from sandbox.external_dns import ExternalDns
from sandbox.https_endpoint import AlbAddresses, HttpsEndpoint
from sandbox.httpsendpoint.moto_albs import MotoAlbExists, MotoAlbRoutes
from sandbox.kube import KubeApiServer, seed_kubeflow_cluster, server_tls_context
from sandbox.kube.kubeconfig import kubeconfig_document
from sandbox.kube.seed import helm_controller_objects

log = logging.getLogger(__name__)

ControllerMode = Literal["none", "preinstalled", "auto-mode"]
ENV_FILE = "env"


@dataclass(frozen=True)
class WorldOptions:
    """How the world is seeded and how slow its clouds are."""

    controller: ControllerMode = "none"
    root_in_route53: bool = True
    acm_delay: float = 2.0
    alb_delay: float = 2.0
    dns_delay: float = 1.0
    route53_sync_delay: float = 0.2
    deployment_ready_delay: float = 0.5
    cluster_name: str = "kubeflow"
    region: str = "us-west-2"
    root_domain: str = "example.com"
    account_id: str = "123456789012"
    poll_interval: float = 0.25
    #: The cluster has the eks-pod-identity-agent add-on (EKS Pod Identity works).
    pod_identity_agent: bool = True
    #: Seconds the controller's webhooks stay silent after its Deployment is ready.
    webhook_answer_delay: float = 0.0
    #: Seconds before the controller looks again at a Gateway whose ALB was provisioning (its
    #: `Programmed` turns True then): 2 minutes in v3.5.0.
    gateway_status_requeue: float = 120.0
    #: Faults injected into kubeflow-alb's AWS requests, e.g. "throttle=0.3,error5xx=0.05,
    #: drop-after-apply=0.05,seed=1" (see sandbox.aws.faults); empty: a reliable network.
    faults: str = ""
    #: Host the root zone in this second AWS account (a DNS account) instead of the cluster's,
    #: with a role `kfalb-root-dns` there that trusts the cluster's account; None: one account.
    root_account_id: str | None = None
    #: The sts:ExternalId that role's trust policy asks for (with root_account_id only).
    root_external_id: str | None = None

    @property
    def root_elsewhere(self) -> bool:
        """The root zone is in Route53, in an account other than the cluster's."""
        return self.root_in_route53 and self.root_account_id not in (None, self.account_id)

    #: More clusters, each "NAME@ACCOUNT[:REGION]" (region: `region` when left out), with their
    #: own VPC, Kubernetes API server (kubeconfig context: the cluster's ARN) and controller;
    #: an account other than `account_id` gets its own root zone, example-<ACCOUNT>.com.
    clusters: tuple[str, ...] = ()
    #: Enforce AWS's Route53 rate: more requests per second in one account are answered
    #: `Throttling` (HTTP 400, "Rate exceeded"), as AWS does past 5; None: no limit.
    route53_rate: float | None = None


class World:
    """Starts every stand-in on 127.0.0.1 and writes `<directory>/env` to point clients at them."""

    def __init__(self, directory: Path, options: WorldOptions | None = None) -> None:
        self.directory = Path(directory)
        self.options = options or WorldOptions()
        self.ca = SandboxCA()
        self.kube: KubeApiServer | None = None
        self.aws: AwsSandbox | None = None
        self.dns: DnsServer | None = None
        self.https: HttpsEndpoint | None = None
        self.controller: AlbControllerStandIn | None = None
        self.webhooks: AlbWebhookServer | None = None
        self.seeded: SeededWorld | None = None
        #: The root domain's DNS provider when the root is not in Route53 (else None).
        self.external_dns: ExternalDns | None = None
        #: Lets another process edit `external_dns` (`kfalb sandbox dns`).
        self.control: ControlServer | None = None
        self.env: dict[str, str] = {}
        #: The clusters added by `WorldOptions.clusters`, in order (the first cluster is `kube`).
        self.clusters: list[SandboxCluster] = []

    def start(self) -> dict[str, str]:
        """Start everything, seed it, write the env file and return its variables."""
        opts = self.options
        self.directory.mkdir(parents=True, exist_ok=True)
        ca_bundle = self.ca.write_bundle(self.directory / "ca.pem")
        cert, key = self.ca.issue_files(self.directory, "kube-api", ["127.0.0.1", "localhost"])
        self.kube = KubeApiServer(
            tls=server_tls_context(cert, key), deployment_ready_delay=opts.deployment_ready_delay
        ).start()
        kubeconfig = self.kube.write_kubeconfig(
            self.directory / "kubeconfig", ca_pem=self.ca.cert_pem.encode()
        )
        places = self._places()
        source: ZoneSource = Route53BackendSource(opts.account_id)
        if opts.root_elsewhere:
            assert opts.root_account_id is not None
            # Public DNS sees the zones of every account: the root's delegates to the cluster's.
            source = CombinedZoneSource(source, Route53BackendSource(opts.root_account_id))
        if places:
            source = CombinedZoneSource(source, *_account_sources(opts.account_id, places))
        if not opts.root_in_route53:
            # Without it the subdomain zone would be a top zone, reachable with no delegation.
            self.external_dns = ExternalDns(opts.root_domain)
            source = CombinedZoneSource(source, self.external_dns.source)
        #: Each ALB's own loopback address, served by the HTTPS endpoint once DNS gives it.
        self.alb_addresses = AlbAddresses()
        self.dns = DnsServer(
            source,
            propagation_delay=opts.dns_delay,
            alb_exists=MotoAlbExists(opts.account_id, *_accounts(opts.account_id, places)),
            alb_address=self.alb_addresses.address_of,
        )
        dns = self.dns
        self.aws = AwsSandbox(
            region=opts.region,
            # AWS, not the controller, turns a new load balancer `active` after provisioning.
            alb_activation_delay=opts.alb_delay,
            account_id=opts.account_id,
            acm_validation_delay=opts.acm_delay,
            dns_check=lambda name, rtype, value: _has_value(dns.lookup(name, rtype), value),
            route53_sync_delay=opts.route53_sync_delay,
            faults=parse_faults(opts.faults) if opts.faults else None,
            route53_rate=opts.route53_rate,
        ).start()
        # moto's accounts outlive a sandbox in the process: a world starts from an empty one.
        reset_account(opts.account_id)
        self.seeded = self.aws.seed_world(
            cluster_name=opts.cluster_name,
            k8s_endpoint=self.kube.url,
            k8s_ca_pem=self.ca.cert_pem.encode(),
            root_domain=opts.root_domain,
            root_in_route53=opts.root_in_route53 and not opts.root_elsewhere,
            pod_identity_agent=opts.pod_identity_agent,
        )
        if opts.root_elsewhere:
            assert opts.root_account_id is not None
            self.aws.seed_root_account(
                opts.root_account_id,
                root_domain=opts.root_domain,
                external_id=opts.root_external_id,
            )
        self.dns.start()
        self.https = HttpsEndpoint(
            self.ca,
            MotoAlbRoutes(self.dns.alb_for, opts.account_id, *_accounts(opts.account_id, places)),
            addresses=self.alb_addresses,
        )
        self.https.start()
        seed_kubeflow_cluster(self.kube)
        self.webhooks = AlbWebhookServer(answer_after=opts.webhook_answer_delay)
        store = self.kube.store
        self.webhooks.attach(store)
        self._seed_controller(opts.controller)
        self.controller = AlbControllerStandIn(
            kubeconfig=str(kubeconfig),
            aws_env=self.aws.env(),
            cluster_name=opts.cluster_name,
            mode=opts.controller,
            interval=min(opts.poll_interval, 0.2),
            gateway_status_requeue=opts.gateway_status_requeue,
            store_version=lambda: store.resource_version,
        )
        self.controller.start()
        self._start_clusters(places, (cert, key), kubeconfig)
        self.control = ControlServer(self.external_dns).start(self.directory)
        self.env = {
            **self.aws.env(),
            "KUBECONFIG": str(kubeconfig),
            # kubectl caches discovery per host:port; a later sandbox may reuse the port.
            "KUBECACHEDIR": str(self.directory / "kube-cache"),
            "KFALB_DNS_NAMESERVERS": self.dns.nameserver,
            # The hosted zones' name servers resolve to the sandbox DNS server, on its port.
            "KFALB_AUTHORITATIVE_DNS_PORT": str(self.dns.address[1]),
            "KFALB_CA_BUNDLE": str(ca_bundle),
            "KFALB_HTTPS_PORT": str(self.https.port),
            "KFALB_POLL_INTERVAL_SECONDS": str(opts.poll_interval),
            "KFALB_POLL_MAX_INTERVAL_SECONDS": str(max(opts.poll_interval, 1.0)),
        }
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.env.items()]
        (self.directory / ENV_FILE).write_text("\n".join(lines) + "\n")
        log.info("sandbox world up: %s", self.directory / ENV_FILE)
        return dict(self.env)

    def stop(self) -> None:
        """Stop everything that was started, in reverse order, and remove the env file."""
        (self.directory / ENV_FILE).unlink(missing_ok=True)
        (self.directory / CONTROL_FILE).unlink(missing_ok=True)
        for cluster in reversed(self.clusters):
            cluster.stop()
        for part in (
            self.control,
            self.controller,
            self.webhooks,
            self.https,
            self.dns,
            self.aws,
            self.kube,
        ):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # stopping the rest matters more than one failure
                    log.exception("sandbox: failed to stop %s", type(part).__name__)

    @property
    def root_account(self) -> RootAccount | None:
        """The root zone's own account and its role, when the root is in another account."""
        return self.aws.root_account if self.aws is not None else None

    @property
    def root_zone_id(self) -> str | None:
        """The root zone's id, in whichever account it is."""
        if self.root_account is not None:
            return self.root_account.root_zone_id
        return self.seeded.root_zone_id if self.seeded is not None else None

    def alb_webhook(
        self, *, answering: bool = True, after: float | None = None, refuse: int = 0
    ) -> None:
        """Make the ALB controller's webhooks answer or not (``after``: seconds of readiness;
        ``refuse``: the next that many calls are refused first).

        Not answering is what a real cluster shows while the controller's webhook server is
        not up yet, or when the control plane cannot reach the nodes on 9443: the API server
        fails matching writes with ``connect: connection refused``.
        """
        assert self.webhooks is not None, "start the world first"
        self.webhooks.set_answering(answering, after=after, refuse=refuse)

    def alb_end_of_life(
        self,
        fault: str,
        *,
        ingress: str = "istio-system/istio-ingress",
        service: str = "istio-ingressgateway",
    ) -> Callable[[], None]:
        """Make an Ingress's end of life fail as the real controller's does (`fault`: one of
        sandbox.albcontroller.endoflife.FAULTS; `service`: the backend of the broken group
        member); returns the fix, as a person would make it."""
        assert self.aws is not None, "start the world first"
        assert self.kube is not None
        return break_end_of_life(
            fault, aws=self.aws.client, store=self.kube.store, ingress=ingress, service=service
        )

    def __enter__(self) -> World:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _seed_controller(self, mode: ControllerMode, store: Any = None) -> None:
        """Model a controller installed outside the flow: Helm (preinstalled) or EKS Auto Mode."""
        assert self.kube is not None
        store = store if store is not None else self.kube.store
        if mode == "none":
            return
        controller = HELM_CONTROLLER if mode == "preinstalled" else AUTO_MODE_CONTROLLER
        store.apply(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": "alb", "labels": {"app.kubernetes.io/managed-by": "Helm"}},
                "spec": {"controller": controller},
            },
            field_manager="helm",
            force=True,
        )
        if mode == "preinstalled":
            for obj in helm_controller_objects():
                store.apply(obj, field_manager="helm", force=True)

    # --- more clusters and accounts (WorldOptions.clusters) ---------------------------------

    def _places(self) -> list[ClusterPlace]:
        return [parse_cluster(text, default_region=self.options.region)
                for text in self.options.clusters]  # fmt: skip

    def _start_clusters(
        self, places: list[ClusterPlace], tls_files: tuple[Path, Path], kubeconfig: Path
    ) -> None:
        """Start the added clusters; the world's kubeconfig then has all their contexts and
        `aws-credentials` a profile per account."""
        if not places:
            return
        assert self.aws is not None
        assert self.kube is not None
        opts, ca_pem = self.options, self.ca.cert_pem.encode()
        rooted = {opts.account_id}
        for index, place in enumerate(places, start=1):
            self.clusters.append(
                start_cluster(
                    place,
                    aws=self.aws,
                    options=opts,
                    directory=self.directory,
                    tls_files=tls_files,
                    ca_pem=ca_pem,
                    with_root_zone=place.account not in rooted,
                    index=index,
                    seed_controller=self._seed_controller,
                )  # fmt: skip
            )
            rooted.add(place.account)
        documents = [kubeconfig_document(self.kube.url, token="sandbox-token", ca_pem=ca_pem)]
        documents += [cluster_document(cluster, ca_pem) for cluster in self.clusters]
        text = yaml.safe_dump(merged_kubeconfig(documents), sort_keys=False)
        kubeconfig.write_text(text)
        accounts = [self.credentials(account) for account in self.accounts()]
        (self.directory / "aws-credentials").write_text(credentials_file(accounts))

    def accounts(self) -> list[str]:
        """Every account of the world, its own first."""
        return [self.options.account_id, *_accounts(self.options.account_id, self._places())]

    def root_domain(self, account: str) -> str:
        """The public root zone's name in an account of the world."""
        return root_domain_of(account, self.options)

    def credentials(self, account: str) -> AccountKeys:
        """An IAM user's access key in `account` (the world's own account too: the default
        chain's `testing` key also reaches it)."""
        assert self.aws is not None, "start the world first"
        region = next((c.place.region for c in self.clusters if c.place.account == account),
                      self.options.region)  # fmt: skip
        return self.aws.add_account(account, region=region)

    def save_credentials_blocks(self) -> dict[str, str]:
        """Save a prefect-aws AwsCredentials block `sandbox-<ACCOUNT>` per account of the
        world (in the Prefect API of this process); returns account -> block name."""
        from prefect_aws import AwsCredentials

        names: dict[str, str] = {}
        for account in self.accounts():
            keys = self.credentials(account)
            name = credentials_name(account)
            AwsCredentials(aws_access_key_id=keys.access_key_id,
                           aws_secret_access_key=keys.secret_access_key,
                           region_name=keys.region).save(name, overwrite=True)  # fmt: skip
            names[account] = name
        return names

    def cluster(self, context: str) -> SandboxCluster:
        """An added cluster by its kubeconfig context (its ARN)."""
        return next(cluster for cluster in self.clusters if cluster.context == context)


def _accounts(own: str, places: list[ClusterPlace]) -> list[str]:
    """The accounts of the added clusters other than the world's own, in order."""
    return list(dict.fromkeys(p.account for p in places if p.account != own))


def _account_sources(own: str, places: list[ClusterPlace]) -> list[ZoneSource]:
    return [Route53BackendSource(account) for account in _accounts(own, places)]


def _has_value(values: list[str], wanted: str) -> bool:
    normal = wanted.lower().rstrip(".")
    return any(value.lower().rstrip(".") == normal for value in values)
