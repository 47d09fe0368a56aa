"""The EKS cluster: observe it and check it can host the load balancer."""

from __future__ import annotations

from core.errors import PreflightError
from core.resources import ClusterState
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, or_none
from tasks.logs import run_logger


def read_cluster(ctx: AwsContext, name: str) -> ClusterState | None:
    """DescribeCluster as a ClusterState, or None when the cluster does not exist."""
    eks = client(ctx, "eks")
    found = or_none("ResourceNotFoundException", lambda: eks.describe_cluster(name=name)["cluster"])
    if found is None:
        return None
    vpc = found.get("resourcesVpcConfig", {})
    subnet_ids = tuple(vpc.get("subnetIds", ()))
    vpc_id = vpc.get("vpcId") or _vpc_of(ctx, subnet_ids)
    return ClusterState(
        name=found["name"],
        region=ctx.region,
        arn=found.get("arn", ""),
        status=found.get("status", "UNKNOWN"),
        version=found.get("version", ""),
        endpoint=found.get("endpoint"),
        certificate_authority=found.get("certificateAuthority", {}).get("data"),
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        security_group_ids=tuple(
            group
            for group in [*vpc.get("securityGroupIds", []), vpc.get("clusterSecurityGroupId")]
            if group
        ),
        oidc_issuer=found.get("identity", {}).get("oidc", {}).get("issuer"),
    )


def _vpc_of(ctx: AwsContext, subnet_ids: tuple[str, ...]) -> str | None:
    # DescribeCluster normally names the VPC; when a response lacks it, the subnets still know.
    if not subnet_ids:
        return None
    subnets = client(ctx, "ec2").describe_subnets(
        Filters=[{"Name": "subnet-id", "Values": [subnet_ids[0]]}]
    )["Subnets"]
    return subnets[0]["VpcId"] if subnets else None


@aws_task
def observe_cluster(ctx: AwsContext, cluster_name: str) -> ClusterState | None:
    """Read the EKS cluster: status, version, endpoint, VPC, subnets and OIDC issuer.

    Returns nothing when the cluster does not exist in the region.
    """
    return read_cluster(ctx, cluster_name)


@aws_task
def preflight_cluster(
    ctx: AwsContext, cluster_name: str, *, oidc_required: bool = True
) -> ClusterState:
    """Check that the EKS cluster exists, is ACTIVE, and has a VPC, subnets and (for IRSA) an
    OIDC issuer."""
    cluster = read_cluster(ctx, cluster_name)
    where = f"EKS cluster {cluster_name!r} in region {ctx.region}"
    if cluster is None:
        raise PreflightError(
            f"{where} does not exist. Check cluster.name and cluster.region "
            f"(`aws eks list-clusters --region {ctx.region}` lists the clusters there)."
        )
    if cluster.status != "ACTIVE":
        raise PreflightError(f"{where} is {cluster.status}, not ACTIVE; re-run once it is ACTIVE.")
    if not cluster.vpc_id or not cluster.subnet_ids:
        raise PreflightError(f"{where} reports no VPC or subnets; the ALB needs both.")
    if oidc_required and not cluster.oidc_issuer:
        raise PreflightError(
            f"{where} has no OIDC issuer, which the controller's IAM role (IRSA) needs."
        )
    run_logger().info(
        "%s: ACTIVE, Kubernetes %s, VPC %s, %d subnets",
        where,
        cluster.version,
        cluster.vpc_id,
        len(cluster.subnet_ids),
    )
    return cluster
