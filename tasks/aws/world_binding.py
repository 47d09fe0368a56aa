"""Bind a stack's record to the AWS world of the run, and drop the ids that no longer exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from core.observation import Observation
from core.resources import ClusterState
from core.state import Kind, StackRecord, StackResource
from core.world_binding import World, bind, drop_missing, dropped_summary, observed, world_here
from tasks.aws.clients import AwsContext, client
from tasks.aws.eks import read_cluster
from tasks.aws.errors import aws_task, error_code
from tasks.aws.pod_identity import association_exists
from tasks.aws.sts import caller_identity
from tasks.logs import run_logger
from tasks.stack_block import StackStore


@aws_task
def observe_world(ctx: AwsContext, cluster_name: str) -> World:
    """Where this run is: the AWS account and partition of the credentials, the region, and the
    EKS cluster's ARN (empty when the cluster does not exist)."""
    return world_here(caller_identity(ctx), read_cluster(ctx, cluster_name), ctx.region)


def bind_store(
    store: StackStore, here: World, *, adopt: bool = False, save: bool = True
) -> StackRecord:
    """Bind the stack's record to this world and save it (`save=False`: the store's next save
    carries it); refuse a record of another account, partition, region or cluster
    (WorldMismatch) unless `adopt` moves it here."""
    binding = bind(store.record, here, adopt=adopt)
    if binding.moved_from is not None:
        run_logger().warning(
            "Moved the block of stack %s from %s to %s (adopt_block); forgot the ids of the "
            "other world, which stay there: %s",
            store.record.stack,
            binding.moved_from.describe(),
            here.describe(),
            dropped_summary(binding.dropped),
        )
    if binding.record == store.record:
        return store.record
    return store.replace(binding.record) if save else store.stage(binding.record)


def _gone_code(call: Callable[[], Any], *codes: str) -> bool:
    try:
        call()
    except ClientError as error:
        if error_code(error) in codes:
            return False
        raise
    return True


def _exists(ctx: AwsContext, item: StackResource) -> bool | None:
    """Whether the resource still exists (None: not looked at here)."""
    if item.kind is Kind.HOSTED_ZONE:
        r53 = client(ctx, "route53")
        return _gone_code(lambda: r53.get_hosted_zone(Id=item.id), "NoSuchHostedZone")
    if item.kind is Kind.CERTIFICATE:
        acm = client(ctx, "acm")
        return _gone_code(
            lambda: acm.describe_certificate(CertificateArn=item.id), "ResourceNotFoundException"
        )
    if item.kind is Kind.IAM_POLICY:
        iam = client(ctx, "iam")
        return _gone_code(lambda: iam.get_policy(PolicyArn=item.id), "NoSuchEntity")
    if item.kind is Kind.IAM_ROLE:
        iam = client(ctx, "iam")
        name = item.name or item.id.rsplit("/", 1)[-1]
        return _gone_code(lambda: iam.get_role(RoleName=name), "NoSuchEntity")
    if item.kind is Kind.OIDC_PROVIDER:
        iam = client(ctx, "iam")
        return _gone_code(
            lambda: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=item.id),
            "NoSuchEntity",
        )
    if item.kind is Kind.POD_IDENTITY:
        return association_exists(ctx, item.id)
    if item.kind is Kind.LOAD_BALANCER:
        elbv2 = client(ctx, "elbv2")
        return _gone_code(
            lambda: elbv2.describe_load_balancers(LoadBalancerArns=[item.id]),
            "LoadBalancerNotFound",
        )
    return None


@aws_task
def find_missing(ctx: AwsContext, record: StackRecord) -> tuple[StackResource, ...]:
    """The record's resources that no longer exist (looked up by id; a record in a zone that is
    gone counts as gone with it). Changes nothing."""
    return drop_missing(record, lambda item: _exists(ctx, item))[1]


def drop_missing_ids(ctx: AwsContext, store: StackStore) -> tuple[StackResource, ...]:
    """Forget (and report) the record's ids that no longer exist, so none is merged or reused."""
    missing = find_missing(ctx, store.record)
    if missing:
        run_logger().warning(
            "Stack %s: %d recorded resources no longer exist and are dropped from its block: %s",
            store.record.stack,
            len(missing),
            dropped_summary(missing),
        )
        kept = tuple(item for item in store.record.resources if item not in missing)
        store.replace(store.record.model_copy(update={"resources": kept}))
    return missing


def bind_observed(
    store: StackStore,
    seen: Observation,
    cluster: ClusterState | None,
    *,
    region: str,
    adopt: bool = False,
    save: bool = True,
) -> tuple[StackResource, ...]:
    """Setup's and remediation's guard before anything is made: bind the record to the world
    the observation saw (refusing another world's unless `adopt`), then drop the recorded ids
    the observation did not find (no extra reads). Returns what was dropped. `save=False`:
    the store's next save (before anything is made) carries the bound record."""
    if seen.identity is None:
        return ()
    bind_store(store, world_here(seen.identity, cluster, region), adopt=adopt, save=save)
    kept, dropped = drop_missing(store.record, observed(seen))
    if dropped:
        run_logger().warning(
            "Stack %s: %d recorded resources no longer exist and are dropped from its block: %s",
            store.record.stack,
            len(dropped),
            dropped_summary(dropped),
        )
        store.replace(kept) if save else store.stage(kept)
    return dropped


def check_observed_world(record: StackRecord | None, seen: Observation, *, region: str) -> None:
    """Drift's read-only guard: refuse a record of another account, partition, region or
    cluster (WorldMismatch); saves nothing and reads nothing beyond the observation."""
    if record is not None and seen.identity is not None:
        bind(record, world_here(seen.identity, seen.cluster, region))
