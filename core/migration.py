"""What a config written back by the kubeflow-manifests script names, as resources of a stack
record (pure): adopted (owned=False), or owned after `kfalb import --take-ownership`."""

from __future__ import annotations

from core.records import certificate_resource, dns_record_resource, zone_resource
from core.resources import CertificateState, HostedZoneState, RecordSetState
from core.spec import StackSpec
from core.state import Kind, StackResource

#: The phase of a stack record made by `kfalb import`.
IMPORTED = "imported"


def imported_resources(
    spec: StackSpec,
    *,
    zone: HostedZoneState | None,
    certificates: tuple[CertificateState, ...],
    record: RecordSetState | None,
    owned: bool,
) -> tuple[StackResource, ...]:
    """The stack record's resources for an import. The zone, certificates and the script's
    `kubeflow.<subdomain>` CNAME are the stack's once tagged (`owned`); the controller policy
    and the ALB stay adopted: the policy's role is eksctl's, the ALB its Ingress's."""
    found: list[StackResource] = []
    if zone is not None:
        found.append(zone_resource(zone))
        if record is not None:
            found.append(dns_record_resource(zone, record).model_copy(update={"owned": owned}))
    found += [certificate_resource(certificate) for certificate in certificates]
    account = spec.kubeflow.alb.service_account
    if account is not None and account.policy_arn:
        found.append(
            StackResource(
                kind=Kind.IAM_POLICY,
                id=account.policy_arn,
                name=account.policy_arn.rsplit("/", 1)[-1],
                owned=False,
                details={
                    "service_account": f"{account.namespace}/{account.name}",
                    "note": "made by the kubeflow-manifests script; detach it from the "
                    "service account's role, then delete it",
                },
            )
        )
    if spec.kubeflow.alb.dns:
        found.append(
            StackResource(
                kind=Kind.LOAD_BALANCER,
                id=spec.kubeflow.alb.dns,
                name=spec.kubeflow.alb.dns,
                owned=False,
            )
        )
    return tuple(found)


def import_rows(resources: tuple[StackResource, ...]) -> list[str]:
    """`kind id (owned|adopted)` of each imported resource, for the command's output."""
    return [
        f"{item.kind.value} {item.id} ({'owned' if item.owned else 'adopted'})"
        for item in resources
    ]
