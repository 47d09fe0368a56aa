"""`*.<subdomain>` to the ALB (alias A, or CNAME; and the AAAA alias of a dualstack ALB),
written while the ALB provisions; removed first at cleanup (before its ALB goes)."""

from __future__ import annotations

from typing import Any

from core import naming, records
from core.cleanup import dashboard_records_to_delete
from core.desired import dashboard_records, wants_aaaa
from core.dnsnames import normalise
from core.resources import RecordChange, RecordSetState
from core.state import Kind, StackResource
from tasks.aws.route53_records import change_records
from tasks.kinds.base import Env, Got, Look, Verbs


def observe(look: Look) -> dict[str, Any]:
    """From the zone's listing: the record of the type the spec asks for, else of the other
    type (a changed record); the AAAA alias for a dualstack ALB."""
    spec, in_zone = look.spec, {r.key(): r for r in look.found.zone_records}
    name = normalise(naming.wildcard(spec.subdomain))
    wanted, other = ("CNAME", "A") if spec.stack.record_type == "cname" else ("A", "CNAME")
    record: RecordSetState | None = in_zone.get((name, wanted)) or in_zone.get((name, other))
    aaaa = in_zone.get((name, "AAAA")) if wants_aaaa(spec) else None
    return {"dashboard_record": record, "dashboard_aaaa": aaaa}


def ensure(env: Env, got: Got) -> tuple[StackResource, ...]:
    zone, balancer = got[Kind.HOSTED_ZONE], got[Kind.LOAD_BALANCER]
    wanted = dashboard_records(env.spec, balancer)  # the A alias, and AAAA for dualstack
    change_records.fn(
        env.ctx, zone.zone_id, [RecordChange(action="UPSERT", record=r) for r in wanted]
    )
    return tuple(records.dns_record_resource(zone, record) for record in wanted)


def delete(env: Env) -> str:
    zone = env.seen.zone
    ours = dashboard_records_to_delete(env.seen, env.record, env.spec.name)
    if zone is None or not ours:
        return ""
    change_records.fn(
        env.ctx, zone.zone_id, [RecordChange(action="DELETE", record=r) for r in ours]
    )
    return "deleted " + ", ".join(f"{r.name} {r.type}" for r in ours)


VERBS = Verbs(observe=observe, observe_after=(Kind.HOSTED_ZONE,), ensure=ensure, delete=delete)
