"""Cleanup and the world of a stack's block: another account's block is refused, missing ids are
dropped, and nothing of the stack's lock is left afterwards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec
from core.state import Kind, StackRecord, StackResource

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


@pytest.fixture
def spec() -> StackSpec:
    return load_spec(EXAMPLE.read_text())


def _foreign_record(spec: StackSpec, world: Any, *, account: str) -> StackRecord:
    zone = StackResource(kind=Kind.HOSTED_ZONE, id="ZOTHERACCOUNT1", name=spec.subdomain,
                         owned=True)  # fmt: skip
    return StackRecord(
        stack=spec.name,
        spec=spec.model_dump(mode="json", by_alias=True),
        phase="ready",
        resources=(zone,),
        account=account,
        partition="aws",
        region=spec.region,
        cluster_arn=f"arn:aws:eks:{spec.region}:{account}:cluster/{spec.cluster.name}",
    )


def test_a_block_of_another_account_is_refused_until_adopted(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from core.world_binding import WorldMismatch
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.stack_block import load_record, save_record

    world = sandbox_world()
    save_record(_foreign_record(spec, world, account="999999999999"))
    calls = api_calls()

    with pytest.raises(WorldMismatch) as error:
        cleanup_load_balancer(stack=spec.name)

    message = str(error.value)
    assert "belongs to account 999999999999" in message
    assert "account 3" in message  # this run's account, the sandbox's
    assert "--adopt-block" in message
    assert api_calls().since(calls).mutating_calls() == ()
    assert load_record(spec.name) is not None

    leftovers = cleanup_load_balancer(stack=spec.name, adopt_block=True)

    assert not any(leftovers.values())
    assert load_record(spec.name) is None


def test_recorded_ids_that_are_gone_are_dropped_with_what_lived_in_them(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from prefect.artifacts import Artifact
    from prefect.client.orchestration import get_client

    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.stack_block import load_record, lock_name, save_record
    from tasks.stack_lock import stack_lock_of
    from tests.leases_held import held_lease

    world = sandbox_world()
    setup_load_balancer(spec=spec)
    record = load_record(spec.name)
    assert record is not None
    sts = world.aws.client("sts").get_caller_identity()
    assert (record.account, record.partition) == (sts["Account"], "aws")
    assert record.cluster_arn.endswith(f":cluster/{spec.cluster.name}")
    # A zone of an earlier generation, deleted by hand, and a record that lived in it.
    stale_zone = StackResource(kind=Kind.HOSTED_ZONE, id="ZGONE000000001", name=spec.subdomain,
                               owned=True)  # fmt: skip
    stale_cname = StackResource(kind=Kind.VALIDATION_RECORD, id="ZGONE000000001/_v/CNAME",
                                name="_v." + spec.subdomain, owned=True,
                                details={"zone_id": "ZGONE000000001", "value": "_x.acm"})  # fmt: skip
    save_record(record.with_resources(stale_zone, stale_cname))
    # What an earlier version's lock left behind.
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(lock_name(spec.name), limit=1)

    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    report = Artifact.get(f"{spec.name}-leftovers")
    assert report is not None
    assert ("Recorded but no longer there (dropped from the block): hosted-zone ZGONE000000001, "
            "validation-record ZGONE000000001/_v/CNAME.") in str(report.data)  # fmt: skip
    assert load_record(spec.name) is None
    assert held_lease(stack_lock_of(spec.name)) is None
    with get_client(sync_client=True) as client:
        limits = client.read_global_concurrency_limits()
    assert lock_name(spec.name) not in {limit.name for limit in limits}


def test_setup_and_drift_refuse_a_block_of_another_cluster_before_any_change(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from core.world_binding import WorldMismatch
    from flows.check_drift import check_drift
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.stack_block import load_record, save_record

    world = sandbox_world()
    account = world.aws.client("sts").get_caller_identity()["Account"]
    foreign = _foreign_record(spec, world, account=account).model_copy(
        update={"cluster_arn": f"arn:aws:eks:{spec.region}:{account}:cluster/another"}
    )
    save_record(foreign)
    calls = api_calls()

    with pytest.raises(WorldMismatch, match="cluster/another in the block"):
        setup_load_balancer(spec=spec)
    with pytest.raises(WorldMismatch, match="cluster/another in the block"):
        check_drift(stack=spec.name)

    assert api_calls().since(calls).mutating_calls() == ()
    assert load_record(spec.name) == foreign
