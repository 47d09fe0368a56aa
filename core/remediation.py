"""What remediation re-applies for the drifted items of a stack (pure)."""

from __future__ import annotations

from enum import StrEnum

from core.drift import https_key
from core.plan import Plan
from core.spec import StackSpec
from core.state import Kind


class Repair(StrEnum):
    """What remediation re-applies, in the order setup applies it."""

    ZONE = "hosted zone"
    DELEGATION = "NS delegation"
    CERTIFICATES = "certificates"
    VALIDATION_RECORDS = "validation records"
    SUBNET_TAGS = "subnet tags"
    IAM = "controller IAM"
    CONTROLLER = "controller"
    INGRESS = "Ingress"
    DNS_RECORD = "DNS record"


_REPAIRS: dict[Kind, tuple[Repair, ...]] = {
    # A new zone is empty: its delegation and records go in again.
    Kind.HOSTED_ZONE: (
        Repair.ZONE,
        Repair.DELEGATION,
        Repair.VALIDATION_RECORDS,
        Repair.DNS_RECORD,
    ),
    Kind.DELEGATION: (Repair.DELEGATION,),
    # A new certificate has a new ARN, which the Ingress must name.
    Kind.CERTIFICATE: (Repair.CERTIFICATES, Repair.VALIDATION_RECORDS, Repair.INGRESS),
    Kind.VALIDATION_RECORD: (Repair.VALIDATION_RECORDS,),
    Kind.SUBNET_TAG: (Repair.SUBNET_TAGS,),
    Kind.OIDC_PROVIDER: (Repair.IAM,),
    Kind.IAM_POLICY: (Repair.IAM,),
    Kind.IAM_ROLE: (Repair.IAM,),
    Kind.CONTROLLER: (Repair.CONTROLLER,),
    # The controller rebuilds the ALB from the Ingress; the record then follows the ALB.
    Kind.INGRESS: (Repair.INGRESS, Repair.DNS_RECORD),
    Kind.LOAD_BALANCER: (Repair.INGRESS, Repair.DNS_RECORD),
    Kind.DNS_RECORD: (Repair.DNS_RECORD,),
}


def repairs(spec: StackSpec, result: Plan) -> tuple[Repair, ...]:
    """What to re-apply for the drifted items only, in setup order. A failing HTTPS answer alone
    has nothing to re-apply: the re-check reports it."""
    wanted: set[Repair] = set()
    for change in result.drift:
        if change.item.key != https_key(spec):
            wanted.update(_REPAIRS[change.item.kind])
    return tuple(repair for repair in Repair if repair in wanted)
