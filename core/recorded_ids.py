"""The ids a stack's record holds, for reading its items directly instead of searching the
account: a read by id costs the same however many stacks the account holds."""

from __future__ import annotations

from core.dnsnames import normalise
from core.state import Kind, StackRecord


def recorded_ids(
    record: StackRecord | None, kind: Kind, *, account: str, region: str
) -> dict[str, str]:
    """The record's own items of a kind, by normalised name (the latest recorded wins): empty
    when the record is missing or bound to another account or region (its ids mean nothing
    here). A recorded id is only where to look first: the caller checks the item it reads
    there still carries the stack's mark, and searches otherwise."""
    if record is None or not record.account or record.account != account:
        return {}
    if record.region and record.region != region:
        return {}
    return {
        normalise(item.name): item.id for item in record.of_kind(kind) if item.owned and item.id
    }
