"""EKS clusters as DescribeCluster shows them in AWS, plus the world's levers on them.

moto leaves ``resourcesVpcConfig.vpcId`` out, gives every cluster the same OIDC issuer (10
random characters, not 32 hex digits), and an endpoint and CA that point nowhere. Here a
cluster created through the sandbox gets its VPC id from its subnets, the endpoint access
defaults of AWS and its own issuer; ``configure`` points it at the sandbox Kubernetes API.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from moto.ec2.models import ec2_backends
from moto.eks.models import Cluster, EKSBackend, eks_backends

from sandbox.aws.hooks import Realism, extra_state, hook, state_lock


def oidc_issuer(region: str, seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest().upper()
    return f"https://oidc.eks.{region}.amazonaws.com/id/{digest[:32]}"


def vpc_config(config: dict[str, Any], vpc_id: str | None) -> dict[str, Any]:
    """The resourcesVpcConfig EKS returns: what was asked plus AWS's defaults and the VPC."""
    shown = {
        "subnetIds": [],
        "securityGroupIds": [],
        "endpointPublicAccess": True,
        "endpointPrivateAccess": False,
        "publicAccessCidrs": ["0.0.0.0/0"],
        **config,
    }
    if vpc_id is not None:
        shown["vpcId"] = vpc_id
    return shown


def _around_create_cluster(
    realism: Realism, original: Any, backend: EKSBackend, *args: Any, **kwargs: Any
) -> Cluster:
    cluster: Cluster = original(backend, *args, **kwargs)
    subnets = cluster.resources_vpc_config.get("subnetIds") or []
    vpc_id = None
    if subnets:
        subnet = ec2_backends[backend.account_id][backend.region_name].get_subnet(subnets[0])
        vpc_id = subnet.vpc_id
    cluster.resources_vpc_config = vpc_config(cluster.resources_vpc_config, vpc_id)
    counter = extra_state(backend, "clusters_created", lambda: [0])
    with state_lock():
        counter[0] += 1
        seed = f"{cluster.arn}#{counter[0]}"
    cluster.identity = {"oidc": {"issuer": oidc_issuer(backend.region_name, seed)}}
    return cluster


def _cluster(account_id: str, region: str, name: str) -> Cluster:
    return eks_backends[account_id][region].describe_cluster(name)


def configure(
    account_id: str,
    region: str,
    name: str,
    *,
    endpoint: str | None = None,
    ca_pem: bytes | None = None,
    status: str | None = None,
) -> Cluster:
    """Point the cluster at a Kubernetes API server and/or change its status."""
    cluster = _cluster(account_id, region, name)
    if endpoint is not None:
        cluster.endpoint = endpoint
    if ca_pem is not None:
        cluster.certificate_authority = {"data": base64.b64encode(ca_pem).decode()}
    if status is not None:
        cluster.status = status
    return cluster


def delete(account_id: str, region: str, name: str) -> None:
    eks_backends[account_id][region].clusters.pop(name)


def install() -> None:
    hook(EKSBackend, "create_cluster", _around_create_cluster)
