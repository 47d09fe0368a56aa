"""A stack's record is bound to its world (account, partition, region, cluster): pure checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict

from core.errors import PermanentError
from core.observation import Observation
from core.resources import CallerIdentity, ClusterState
from core.state import Kind, StackRecord, StackResource


class WorldMismatch(PermanentError):
    """The stack's saved block belongs to another AWS account, partition, region or cluster."""


class World(BaseModel):
    """Where a run is: the AWS account, partition and region, and the EKS cluster's ARN
    (empty when the cluster is gone, e.g. for a cleanup after it was deleted)."""

    model_config = ConfigDict(frozen=True)

    account: str
    partition: str
    region: str
    cluster_arn: str = ""

    def describe(self) -> str:
        cluster = self.cluster_arn or "no cluster"
        return f"account {self.account} ({self.partition}, {self.region}), {cluster}"


def world_of(record: StackRecord) -> World | None:
    """The world a record is bound to, or None when no run has bound it yet."""
    if not record.account:
        return None
    return World(
        account=record.account,
        partition=record.partition,
        region=record.region,
        cluster_arn=record.cluster_arn,
    )


def differences(there: World, here: World) -> list[str]:
    """What differs between two worlds, in words; a cluster unknown on one side is no difference."""
    found = [
        f"{name} {a} here, {b} in the block"
        for name, a, b in (
            ("account", here.account, there.account),
            ("partition", here.partition, there.partition),
            ("region", here.region, there.region),
        )
        if a != b
    ]
    if here.cluster_arn and there.cluster_arn and here.cluster_arn != there.cluster_arn:
        found.append(f"cluster {here.cluster_arn} here, {there.cluster_arn} in the block")
    return found


class Binding(BaseModel):
    """The outcome of binding a record: the record to use and what it no longer holds."""

    model_config = ConfigDict(frozen=True)

    record: StackRecord
    moved_from: World | None = None
    dropped: tuple[StackResource, ...] = ()


def bind(record: StackRecord, here: World, *, adopt: bool = False) -> Binding:
    """Bind a record to the world of this run, or refuse one from another world.

    A record bound nowhere yet is bound here. A record of another world is refused unless
    `adopt`: then it moves here and forgets every id of the old world (none of them can be
    used here; setup and cleanup find this world's resources by the stack's tags).
    """
    there = world_of(record)
    cluster = here.cluster_arn or record.cluster_arn
    bound = record.model_copy(
        update={
            "account": here.account,
            "partition": here.partition,
            "region": here.region,
            "cluster_arn": cluster,
        }
    )
    if there is None:
        return Binding(record=bound)
    changed = differences(there, here)
    if not changed:
        return Binding(record=bound)
    if not adopt:
        raise WorldMismatch(
            f"The saved block of stack {record.stack} belongs to {there.describe()}, not to "
            f"this run's {here.describe()} ({'; '.join(changed)}). Its ids mean nothing here. "
            "Clean the stack up where it was made, use another stack name, or move the block "
            "here with --adopt-block (adopt_block=true), which forgets the other world's "
            f"{len(record.resources)} resources (they stay where they are)."
        )
    moved = bound.model_copy(update={"resources": (), "cluster_arn": here.cluster_arn})
    return Binding(record=moved, moved_from=there, dropped=record.resources)


def parent_zone(item: StackResource) -> str | None:
    """The hosted zone a record-like resource lives in, or None for other kinds."""
    if item.kind in (Kind.VALIDATION_RECORD, Kind.DNS_RECORD):
        return item.details.get("zone_id") or item.id.split("/", 1)[0] or None
    if item.kind is Kind.DELEGATION:
        return item.details.get("root_zone_id") or item.id.split("/", 1)[0] or None
    return None


def drop_missing(
    record: StackRecord, exists: Callable[[StackResource], bool | None]
) -> tuple[StackRecord, tuple[StackResource, ...]]:
    """The record without resources that no longer exist, and those dropped.

    `exists(item)` answers True / False, or None when it cannot tell (kept). A record in a
    zone that is gone counts as gone with it.
    """
    gone = {
        item.id
        for item in record.resources
        if item.kind is Kind.HOSTED_ZONE and exists(item) is False
    }
    dropped: list[StackResource] = []
    for item in record.resources:
        if item.kind is Kind.HOSTED_ZONE:
            missing = item.id in gone
        elif parent_zone(item) in gone:
            missing = True
        else:
            missing = exists(item) is False
        if missing:
            dropped.append(item)
    kept = tuple(item for item in record.resources if item not in dropped)
    return record.model_copy(update={"resources": kept}), tuple(dropped)


def dropped_summary(items: Iterable[StackResource]) -> str:
    """One line naming dropped resources (for logs and reports)."""
    return ", ".join(f"{item.kind.value} {item.id}" for item in items) or "none"


def world_here(identity: CallerIdentity, cluster: ClusterState | None, region: str) -> World:
    """The world of this run, from the caller identity and the cluster (None when it is gone)."""
    return World(
        account=identity.account,
        partition=identity.partition,
        region=region,
        cluster_arn=cluster.arn if cluster else "",
    )


def observed(seen: Observation) -> Callable[[StackResource], bool | None]:
    """Whether a recorded resource is still there, as an observation of the stack found it
    (None: the observation does not tell). Answers from what was read: no extra calls."""
    arns = {
        Kind.CERTIFICATE: {state.arn for state in seen.certificates.values()},
        Kind.IAM_POLICY: {seen.policy.arn} if seen.policy else set(),
        Kind.IAM_ROLE: {seen.role.arn} if seen.role else set(),
        Kind.OIDC_PROVIDER: {seen.oidc_provider.arn} if seen.oidc_provider else set(),
        Kind.LOAD_BALANCER: {seen.load_balancer.arn} if seen.load_balancer else set(),
    }

    iam_read = any((seen.policy, seen.role, seen.oidc_provider))

    def exists(item: StackResource) -> bool | None:
        if item.kind is Kind.HOSTED_ZONE:
            if seen.zone is None:  # no zone of the subdomain's name at all
                return False
            # Another zone of the same name may exist too; it was not looked at.
            return True if seen.zone.zone_id == item.id else None
        if item.kind in (Kind.IAM_POLICY, Kind.IAM_ROLE, Kind.OIDC_PROVIDER) and not iam_read:
            return None  # not read (the controller is not ours), or all gone: IAM names are fixed
        found = arns.get(item.kind)
        return None if found is None else item.id in found

    return exists
