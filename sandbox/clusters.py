"""More clusters in the sandbox world, in the same or other AWS accounts: a fleet to check.

Each cluster added with ``NAME@ACCOUNT[:REGION]`` is an EKS cluster with its own VPC and
subnets in moto, made in its account with that account's credentials (``sandbox.aws.accounts``),
its own Kubernetes API server (a context named after the cluster's ARN, as
``aws eks update-kubeconfig`` names it, in the world's kubeconfig), its own ALB controller
stand-in and webhooks. An account other than the world's own gets its public root zone
``example-<ACCOUNT>.com`` (a top zone: the DNS server answers for it without a delegation).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.alb_controller import AlbControllerStandIn
from sandbox.albcontroller.webhooks import AlbWebhookServer
from sandbox.aws import AwsSandbox, SeededWorld
from sandbox.aws.accounts import AccountKeys
from sandbox.kube import KubeApiServer, seed_kubeflow_cluster, server_tls_context
from sandbox.kube.kubeconfig import kubeconfig_document

if TYPE_CHECKING:
    from sandbox.world import WorldOptions

log = logging.getLogger(__name__)

_PLACE = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,99})@(?P<account>\d{12})(?::(?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?"
)


@dataclass(frozen=True)
class ClusterPlace:
    """Where a sandbox cluster lives: its name, account and region."""

    name: str
    account: str
    region: str

    @property
    def arn(self) -> str:
        return f"arn:aws:eks:{self.region}:{self.account}:cluster/{self.name}"


def parse_cluster(text: str, *, default_region: str) -> ClusterPlace:
    """``NAME@ACCOUNT[:REGION]`` (e.g. ``team-b@234567890123:eu-west-1``) as a place."""
    found = _PLACE.fullmatch(text.strip())
    if found is None:
        raise ValueError(
            f"cluster {text!r}: expected NAME@ACCOUNT[:REGION], e.g. kubeflow-b@234567890123 "
            "or kubeflow-b@234567890123:eu-west-1 (ACCOUNT: 12 digits)"
        )
    return ClusterPlace(found["name"], found["account"], found["region"] or default_region)


def root_domain_of(account: str, options: WorldOptions) -> str:
    """The public root zone of an account: the world's own for its account, else its own."""
    return options.root_domain if account == options.account_id else f"example-{account}.com"


@dataclass
class SandboxCluster:
    """A running cluster of the world: its place, API server, controller and AWS ids."""

    place: ClusterPlace
    context: str
    kubeconfig: Path
    seeded: SeededWorld
    keys: AccountKeys
    root_domain: str
    kube: KubeApiServer
    webhooks: AlbWebhookServer
    controller: AlbControllerStandIn

    def stop(self) -> None:
        for part in (self.controller, self.webhooks, self.kube):
            try:
                part.stop()
            except Exception:  # stopping the rest matters more than one failure
                log.exception("sandbox: failed to stop %s of %s", type(part).__name__, self.context)


def start_cluster(
    place: ClusterPlace,
    *,
    aws: AwsSandbox,
    options: WorldOptions,
    directory: Path,
    tls_files: tuple[Path, Path],
    ca_pem: bytes,
    with_root_zone: bool,
    index: int,
    seed_controller: Callable[[Any, Any], None],
) -> SandboxCluster:
    """Start one more cluster: API server, seed, webhooks, AWS resources, controller."""
    kube = KubeApiServer(
        tls=server_tls_context(*tls_files), deployment_ready_delay=options.deployment_ready_delay
    ).start()
    # The controller's own kubeconfig: one context, the current one.
    kubeconfig = kube.write_kubeconfig(
        directory / f"kubeconfig-{index}", ca_pem=ca_pem, context=place.arn
    )
    keys = aws.add_account(place.account, region=place.region)
    root = root_domain_of(place.account, options)
    seeded = aws.seed_cluster(
        keys,
        cluster_name=place.name,
        region=place.region,
        k8s_endpoint=kube.url,
        k8s_ca_pem=ca_pem,
        root_domain=root,
        with_root_zone=with_root_zone,
    )
    seed_kubeflow_cluster(kube)
    webhooks = AlbWebhookServer(answer_after=options.webhook_answer_delay)
    webhooks.attach(kube.store)
    seed_controller(options.controller, kube.store)
    controller = AlbControllerStandIn(
        kubeconfig=str(kubeconfig),
        aws_env={
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": keys.access_key_id,
            "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
            "AWS_DEFAULT_REGION": place.region,
        },
        cluster_name=place.name,
        mode=options.controller,
        interval=min(options.poll_interval, 0.2),
        gateway_status_requeue=options.gateway_status_requeue,
        store_version=lambda: kube.store.resource_version,
    )
    controller.start()
    return SandboxCluster(place=place, context=place.arn, kubeconfig=kubeconfig, seeded=seeded,
                          keys=keys, root_domain=root, kube=kube, webhooks=webhooks,
                          controller=controller)  # fmt: skip


def merged_kubeconfig(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One kubeconfig with the contexts of all `documents`; the first one's is current."""
    merged = dict(documents[0])
    for key in ("clusters", "users", "contexts"):
        merged[key] = [item for doc in documents for item in doc[key]]
    return merged


def cluster_document(cluster: SandboxCluster, ca_pem: bytes) -> dict[str, Any]:
    return kubeconfig_document(cluster.kube.url, token="sandbox-token", ca_pem=ca_pem,
                               context=cluster.context)  # fmt: skip


def credentials_file(accounts: list[AccountKeys]) -> str:
    """An AWS shared credentials file with one profile `sandbox-<ACCOUNT>` per account."""
    return "".join(
        f"[{credentials_name(keys.account_id)}]\naws_access_key_id = {keys.access_key_id}\n"
        f"aws_secret_access_key = {keys.secret_access_key}\nregion = {keys.region}\n\n"
        for keys in accounts
    )


def credentials_name(account: str) -> str:
    """The name of an account's credentials: its AWS profile and its AwsCredentials block."""
    return f"sandbox-{account}"
