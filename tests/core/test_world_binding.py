"""A stack's record is bound to its world; ids that no longer exist are dropped, not merged."""

from __future__ import annotations

import pytest

from core.state import Kind, StackRecord, StackResource
from core.world_binding import World, WorldMismatch, bind, drop_missing

HERE = World(account="111111111111", partition="aws", region="us-west-2",
             cluster_arn="arn:aws:eks:us-west-2:111111111111:cluster/kubeflow")  # fmt: skip
ZONE = StackResource(kind=Kind.HOSTED_ZONE, id="Z1", name="platform.example.com", owned=True)
CERT = StackResource(kind=Kind.CERTIFICATE, id="arn:aws:acm:us-west-2:1:certificate/c", owned=True)
CNAME = StackResource(kind=Kind.VALIDATION_RECORD, id="Z1/_x.platform.example.com/CNAME",
                      owned=True, details={"zone_id": "Z1", "value": "_y.acm"})  # fmt: skip
ALIAS = StackResource(kind=Kind.DNS_RECORD, id="Z1/*.platform.example.com/A", owned=True,
                      details={"zone_id": "Z1", "type": "A"})  # fmt: skip
INGRESS = StackResource(kind=Kind.INGRESS, id="istio-system/istio-ingress", owned=True)


def _record(world: World | None = None) -> StackRecord:
    record = StackRecord(stack="demo", resources=(ZONE, CERT, CNAME, ALIAS, INGRESS))
    if world is None:
        return record
    return record.model_copy(update=world.model_dump())


def test_a_record_bound_nowhere_is_bound_to_this_world() -> None:
    binding = bind(_record(), HERE)
    assert (binding.record.account, binding.record.cluster_arn) == (HERE.account, HERE.cluster_arn)
    assert binding.record.resources == _record().resources
    assert binding.dropped == ()


def test_the_same_world_keeps_everything_even_when_the_cluster_is_gone() -> None:
    gone = HERE.model_copy(update={"cluster_arn": ""})
    binding = bind(_record(HERE), gone)
    assert binding.record == _record(HERE)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("account", "222222222222", "account 111111111111 here, 222222222222 in the block"),
        ("region", "eu-west-1", "region us-west-2 here, eu-west-1 in the block"),
        ("cluster_arn", "arn:aws:eks:us-west-2:111111111111:cluster/other",
         "cluster arn:aws:eks:us-west-2:111111111111:cluster/kubeflow here, "
         "arn:aws:eks:us-west-2:111111111111:cluster/other in the block"),
    ],
)  # fmt: skip
def test_a_record_of_another_world_is_refused_with_what_differs(
    field: str, value: str, words: str
) -> None:
    there = HERE.model_copy(update={field: value})
    with pytest.raises(WorldMismatch) as error:
        bind(_record(there), HERE)
    assert words in str(error.value)
    assert "--adopt-block" in str(error.value)
    assert "The saved block of stack demo belongs to account" in str(error.value)


def test_adopting_moves_the_record_and_forgets_the_old_worlds_ids() -> None:
    there = HERE.model_copy(update={"account": "222222222222"})
    binding = bind(_record(there), HERE, adopt=True)
    assert binding.moved_from == there
    assert binding.record.account == HERE.account
    assert binding.record.resources == ()
    assert binding.dropped == _record().resources


def test_missing_ids_are_dropped_and_a_gone_zone_takes_its_records_with_it() -> None:
    looked: list[str] = []

    def exists(item: StackResource) -> bool | None:
        looked.append(item.id)
        return {"Z1": False, CERT.id: True}.get(item.id)

    record, dropped = drop_missing(_record(), exists)
    assert dropped == (ZONE, CNAME, ALIAS)
    assert record.resources == (CERT, INGRESS)  # unknown (None) is kept
    assert CNAME.id not in looked  # its parent decides


def test_a_missing_certificate_alone_is_dropped() -> None:
    record, dropped = drop_missing(
        _record(), lambda item: item.id != CERT.id if item.kind is Kind.CERTIFICATE else True
    )
    assert dropped == (CERT,)
    assert CERT not in record.resources
