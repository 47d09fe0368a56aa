"""The ids a record offers for direct reads: only its own items, only in its own world."""

from __future__ import annotations

from core.recorded_ids import recorded_ids
from core.state import Kind, StackRecord, StackResource

ARN = "arn:aws:acm:us-west-2:111122223333:certificate/1"


def _record(**world: str) -> StackRecord:
    return StackRecord(
        stack="s",
        resources=(
            StackResource(kind=Kind.CERTIFICATE, id=ARN, name="*.Sub.example.com.", owned=True),
            StackResource(kind=Kind.CERTIFICATE, id="adopted", name="*.example.com", owned=False),
            StackResource(kind=Kind.HOSTED_ZONE, id="Z1", name="sub.example.com", owned=True),
        ),
        **world,
    )


def test_own_items_by_normalised_name_in_the_records_world() -> None:
    record = _record(account="111122223333", region="us-west-2")
    found = recorded_ids(record, Kind.CERTIFICATE, account="111122223333", region="us-west-2")
    assert found == {"*.sub.example.com": ARN}  # an adopted item is searched for, not read
    assert recorded_ids(record, Kind.HOSTED_ZONE, account="111122223333", region="us-west-2") == {
        "sub.example.com": "Z1"
    }


def test_no_ids_from_another_world_an_unbound_record_or_none() -> None:
    record = _record(account="111122223333", region="us-west-2")
    assert recorded_ids(record, Kind.CERTIFICATE, account="999999999999", region="us-west-2") == {}
    assert recorded_ids(record, Kind.CERTIFICATE, account="111122223333", region="eu-west-1") == {}
    assert recorded_ids(_record(), Kind.CERTIFICATE, account="111122223333", region="x") == {}
    assert recorded_ids(None, Kind.CERTIFICATE, account="111122223333", region="us-west-2") == {}
