"""Declared and observed fields of the stack's DNS kinds (pure): the subdomain zone, its
delegation, the certificates and their validation records, the dashboard record, and the checked
answers (the name resolving to the ALB, the dashboard over HTTPS)."""

from __future__ import annotations

from datetime import datetime

from core import naming
from core.desired import certificate_requests, dashboard_record, wants_aaaa
from core.dnsnames import normalise
from core.observation import Observation
from core.ownership import tag_fields, tags_found
from core.plan import PRESENT, Item
from core.resources import CertificateState, LoadBalancerState, RecordSetState
from core.spec import StackSpec
from core.state import Kind

Fields = dict[str, str]
Found = dict[tuple[Kind, str], Fields | None]

#: A certificate that expires sooner than this is drift: ACM renewal has failed somewhere.
MIN_DAYS_TO_EXPIRY = 14.0
YES, NO = "yes", "no"
ALB_ADDRESSES = "the ALB's addresses"
HTTPS_OK = "200 or a redirect, valid certificate"


def aaaa_key(spec: StackSpec) -> str:
    return f"{naming.wildcard(spec.subdomain)} AAAA"


def dns_answer_key(spec: StackSpec) -> str:
    return f"{spec.dashboard_host} at the resolvers"


def https_key(spec: StackSpec) -> str:
    return f"https://{spec.dashboard_host}/"


def zone_items(spec: StackSpec, seen: Observation) -> list[Item]:
    return [Item(Kind.HOSTED_ZONE, spec.subdomain, {"public": YES, **tag_fields(spec, seen.zone)})]


def zone_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.zone is None:
        return {}
    fields = {"public": NO if seen.zone.private else YES, **tags_found(seen.zone)}
    return {(Kind.HOSTED_ZONE, spec.subdomain): fields}


def delegation_items(spec: StackSpec, seen: Observation) -> list[Item]:
    """The NS delegation in the root zone; none when the root is not in Route53 (then the NS
    records are added by hand at the registrar, and only waited for)."""
    if seen.root_zone is None:
        return []
    servers = names(seen.zone.name_servers) if seen.zone else PRESENT
    return [Item(Kind.DELEGATION, spec.subdomain, {"name_servers": servers})]


def delegation_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.delegation is None:
        return {}
    return {(Kind.DELEGATION, spec.subdomain): {"name_servers": names(seen.delegation.values)}}


def certificate_items(spec: StackSpec, seen: Observation) -> list[Item]:
    wanted = {"status": "ISSUED", "expiry": f"in more than {MIN_DAYS_TO_EXPIRY:g} days"}
    return [
        Item(
            Kind.CERTIFICATE,
            request.domain,
            {**wanted, **tag_fields(spec, seen.certificates.get(request.domain))},
        )
        for request in certificate_requests(spec)
    ]


def certificate_found(spec: StackSpec, seen: Observation) -> Found:
    return {
        (Kind.CERTIFICATE, domain): {
            "status": certificate.status,
            "expiry": _expiry(certificate, seen.observed_at),
            **tags_found(certificate),
        }
        for domain, certificate in seen.certificates.items()
    }


def validation_items(spec: StackSpec, seen: Observation) -> list[Item]:
    """The validation CNAMEs of the stack's own certificates that Route53 zones hold (an adopted
    certificate's are not ours; one not requested yet has its records known once ACM has it)."""
    items: dict[str, Item] = {}
    for request in certificate_requests(spec):
        certificate = seen.certificates.get(request.domain)
        if request.arn is not None and (certificate is None or not certificate.owned):
            continue
        if certificate is None:
            key = f"for {request.domain}"
            items[key] = Item(Kind.VALIDATION_RECORD, key)
            continue
        for record in certificate.validation_records:
            if record.zone_id is not None:  # others are added by hand outside Route53
                items[record.name] = Item(
                    Kind.VALIDATION_RECORD, record.name, {"value": normalise(record.value)}
                )
    return list(items.values())


def validation_found(spec: StackSpec, seen: Observation) -> Found:
    return {
        (Kind.VALIDATION_RECORD, name): None if record is None else {"value": target(record)}
        for name, record in seen.validation_records.items()
    }


def record_items(spec: StackSpec, seen: Observation) -> list[Item]:
    """`*.<subdomain>` to the ALB, and the AAAA alias next to it for a dualstack ALB."""
    wanted = _record_wanted(spec, seen)
    items = [Item(Kind.DNS_RECORD, naming.wildcard(spec.subdomain), wanted)]
    if wants_aaaa(spec):
        items.append(Item(Kind.DNS_RECORD, aaaa_key(spec), {**wanted, "type": "AAAA"}))
    return items


def record_found(spec: StackSpec, seen: Observation) -> Found:
    found: Found = {}
    if seen.dashboard_record is not None:
        record = seen.dashboard_record
        found[(Kind.DNS_RECORD, naming.wildcard(spec.subdomain))] = {
            "type": record.type,
            "target": target(record),
        }
    if seen.dashboard_aaaa is not None:
        found[(Kind.DNS_RECORD, aaaa_key(spec))] = {
            "type": seen.dashboard_aaaa.type,
            "target": target(seen.dashboard_aaaa),
        }
    return found


def answer_items(spec: StackSpec, seen: Observation) -> list[Item]:
    return [Item(Kind.DNS_ANSWER, dns_answer_key(spec), {"answer": ALB_ADDRESSES})]


def answer_found(spec: StackSpec, seen: Observation) -> Found:
    if not seen.host_answers:
        return {}
    like_alb = set(seen.host_answers) <= set(seen.alb_answers)
    answer = ALB_ADDRESSES if like_alb else ", ".join(seen.host_answers)
    return {(Kind.DNS_ANSWER, dns_answer_key(spec)): {"answer": answer}}


def https_items(spec: StackSpec, seen: Observation) -> list[Item]:
    return [Item(Kind.HTTPS_ANSWER, https_key(spec), {"answer": HTTPS_OK})]


def https_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.https_ok is None:
        return {}
    answer = HTTPS_OK if seen.https_ok else seen.https_detail or "no answer"
    return {(Kind.HTTPS_ANSWER, https_key(spec)): {"answer": answer}}


def no_items(spec: StackSpec, seen: Observation) -> list[Item]:
    """A checked kind verified only while apply works (nothing to declare or drift)."""
    return []


def nothing_found(spec: StackSpec, seen: Observation) -> Found:
    return {}


def record_moves(spec: StackSpec, seen: Observation, balancer: LoadBalancerState) -> bool:
    """Whether writing the dashboard's record moves a name that points elsewhere (to another
    ALB, a switch of front door) to this ALB: then the ALB must answer first."""
    record = seen.dashboard_record
    return record is not None and target(record) != target(dashboard_record(spec, balancer))


def _record_wanted(spec: StackSpec, seen: Observation) -> Fields:
    if seen.load_balancer is None:
        return {"type": "CNAME" if spec.stack.record_type == "cname" else "A", "target": PRESENT}
    record = dashboard_record(spec, seen.load_balancer)
    return {"type": record.type, "target": target(record)}


def target(record: RecordSetState) -> str:
    """Where a record points, compared case-insensitively and without ALB `dualstack.` prefixes."""
    if record.alias is not None:
        return normalise(record.alias.dns_name).removeprefix("dualstack.")
    return names(record.values)


def names(values: tuple[str, ...] | list[str]) -> str:
    return ",".join(sorted({normalise(value) for value in values}))


def _expiry(certificate: CertificateState, now: datetime) -> str:
    days = certificate.days_to_expiry(now)
    if days is None:
        return "unknown (not issued)"
    if days > MIN_DAYS_TO_EXPIRY:
        return f"in more than {MIN_DAYS_TO_EXPIRY:g} days"
    return f"in {days:.0f} days" if days > 0 else "expired"
