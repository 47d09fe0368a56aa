"""The root zone as the kinds reach it: through its role (`route53.rootDomain.roleArn`) or, when
AWS refused that role, as the stack's record says. Cleanup goes on without the root zone then:
what it holds of the stack (the NS delegation, validation records) is taken as still there, so
that nothing it points at goes first, and is reported as left with the refusal's reason.
This is the one place that decides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.cleanup import recorded_root_zone, recorded_zone
from core.errors import PermanentError
from core.observation import Observation
from core.resources import HostedZoneState, RecordSetState, ValidationRecord
from core.spec import StackSpec
from core.state import StackRecord
from tasks.aws.clients import AwsContext
from tasks.aws.root_dns import root_dns, zone_access
from tasks.aws.route53 import find_root_zone
from tasks.aws.route53_delegation import delegation_record, observe_delegation
from tasks.aws.route53_records import observe_record_set, observe_record_sets


@dataclass(frozen=True)
class RootZone:
    """The root zone's access for one look or one removal."""

    ctx: AwsContext
    spec: StackSpec
    zone_id: str | None  # None: not known (not found yet, or not in Route53)
    refused: str  # why AWS refused the root zone's role; "": it did not

    @classmethod
    def of(cls, ctx: AwsContext, spec: StackSpec, seen: Observation) -> RootZone:
        root = seen.root_zone
        return cls(ctx, spec, root.zone_id if root else None, seen.root_refused)

    def unreadable(self, zone_id: str | None) -> bool:
        """True for the root zone while its role is refused: it answers from the record."""
        return bool(self.refused) and zone_id is not None and zone_id == self.zone_id

    def access(self, zone_id: str) -> AwsContext:
        """The context for Route53 calls on `zone_id` (the root zone's role for the root)."""
        return zone_access(self.ctx, self.spec, zone_id, root_zone_id=self.zone_id)

    def find(
        self, record: StackRecord | None, *, by_name_when_gone: bool
    ) -> HostedZoneState | None:
        """The root zone: looked up, or as recorded when refused."""
        if self.refused:
            return recorded_root_zone(self.spec, record)
        found: HostedZoneState | None = find_root_zone.fn(
            root_dns(self.ctx, self.spec), self.spec, by_name_when_gone=by_name_when_gone
        )
        return found

    def delegation(self, seen: Observation, record: StackRecord | None) -> RecordSetState | None:
        """The subdomain's NS record in the root zone. Refused: taken as present while the
        stack's zone is, so that the zone it points at stays until the record is known to be
        gone (no dangling delegation)."""
        if self.refused:
            zone = recorded_zone(seen, record)
            return delegation_record(zone) if zone is not None else None
        if self.zone_id is None:
            return None
        found: RecordSetState | None = observe_delegation.fn(
            root_dns(self.ctx, self.spec), self.zone_id, self.spec.subdomain
        )
        return found

    def record_set(self, wanted: ValidationRecord) -> RecordSetState | None:
        """A validation record of a zone other than the subdomain's (as placed, when refused)."""
        zone_id = wanted.zone_id or ""
        if self.unreadable(zone_id):
            return wanted.as_record()
        found: RecordSetState | None = observe_record_set.fn(
            self.access(zone_id), zone_id, wanted.name, wanted.type
        )
        return found

    def record_sets(
        self, lookups: Mapping[str, Sequence[tuple[str, str]]], placed: Iterable[ValidationRecord]
    ) -> list[RecordSetState]:
        """The record sets of `lookups` (zone id -> keys); the root zone's, when refused, as
        `placed` says."""
        found = [c.as_record() for c in placed if self.unreadable(c.zone_id)]
        for zone_id, keys in lookups.items():
            if not self.unreadable(zone_id):
                found += observe_record_sets.fn(self.access(zone_id), zone_id, keys)
        return found

    def cannot_remove(self, what: str, then: str = "") -> PermanentError:
        """The error for what the root zone holds and a refused role cannot remove."""
        return PermanentError(f"{what} cannot be removed: {self.refused}{then}")
