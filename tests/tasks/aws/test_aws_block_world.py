"""Binding a record to the world of the run, and dropping recorded ids that no longer exist."""

from __future__ import annotations

from typing import Any, cast

from core.state import Kind, StackRecord, StackResource
from tasks.aws import world_binding as world_tasks
from tasks.stack_block import StackStore


class _Store:
    """A StackStore that keeps the record in memory."""

    def __init__(self, record: StackRecord) -> None:
        self.record = record

    def replace(self, record: StackRecord) -> StackRecord:
        self.record = record
        return record


def test_the_world_is_the_callers_account_and_the_clusters_arn(ctx, world, sandbox):
    here = world_tasks.observe_world.fn(ctx, world.cluster_name)
    assert (here.account, here.partition, here.region) == (sandbox.account_id, "aws", "us-west-2")
    assert here.cluster_arn == f"arn:aws:eks:us-west-2:{sandbox.account_id}:cluster/kubeflow"
    assert world_tasks.observe_world.fn(ctx, "no-such-cluster").cluster_arn == ""


def test_ids_that_no_longer_exist_are_dropped_with_the_records_of_a_gone_zone(ctx, boto):
    r53, acm, iam = boto("route53"), boto("acm"), boto("iam")
    live = r53.create_hosted_zone(Name="live.example.org", CallerReference="live")
    live_id = live["HostedZone"]["Id"].rsplit("/", 1)[-1]
    gone = r53.create_hosted_zone(Name="gone.example.org", CallerReference="gone")
    gone_id = gone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    r53.delete_hosted_zone(Id=gone_id)
    certificate = acm.request_certificate(DomainName="live.example.org")["CertificateArn"]
    missing_certificate = certificate.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    role = iam.create_role(RoleName="kfalb-live", AssumeRolePolicyDocument="{}")["Role"]
    items = (
        StackResource(kind=Kind.HOSTED_ZONE, id=live_id, owned=True),
        StackResource(kind=Kind.HOSTED_ZONE, id=gone_id, owned=True),
        StackResource(kind=Kind.VALIDATION_RECORD, id=f"{gone_id}/_v/CNAME", owned=True,
                      details={"zone_id": gone_id, "value": "_x"}),
        StackResource(kind=Kind.DNS_RECORD, id=f"{live_id}/*.live/A", owned=True,
                      details={"zone_id": live_id}),
        StackResource(kind=Kind.CERTIFICATE, id=certificate, owned=True),
        StackResource(kind=Kind.CERTIFICATE, id=missing_certificate, owned=True),
        StackResource(kind=Kind.IAM_ROLE, id=role["Arn"], name="kfalb-live", owned=True),
        StackResource(kind=Kind.IAM_ROLE, id=role["Arn"] + "-gone", name="kfalb-gone", owned=True),
        StackResource(kind=Kind.INGRESS, id="istio-system/istio-ingress", owned=True),
    )  # fmt: skip
    record = StackRecord(stack="world-test", resources=items)

    dropped = world_tasks.find_missing.fn(ctx, record)

    assert [item.id for item in dropped] == [gone_id, f"{gone_id}/_v/CNAME",
                                             missing_certificate, role["Arn"] + "-gone"]  # fmt: skip


def test_a_record_is_bound_once_and_saved(ctx, world, sandbox):
    here = world_tasks.observe_world.fn(ctx, world.cluster_name)
    store = _Store(StackRecord(stack="world-test"))
    bound: Any = world_tasks.bind_store(cast(StackStore, store), here)
    assert bound.account == sandbox.account_id
    assert store.record is bound
