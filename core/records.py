"""Turn observed states into the stack record's resources (what cleanup and reports read)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel

from core import resources
from core.gateway_state import FrontDoorOutcome, FrontDoorState
from core.kubestate import ControllerOutcome, IngressOutcome, IngressState
from core.state import Kind, StackResource


@dataclass(frozen=True)
class _Fields:
    """Where a state's entry takes its fields: attribute names of the state (a tuple is recorded
    joined by commas); `owned` names the state's mark, or is the mark itself."""

    kind: Kind
    id: str
    name: str
    status: str = ""
    details: tuple[str, ...] = ()
    owned: str | bool = "owned"


# The states recorded as one entry each, their fields read straight off the state.
_PLAIN: dict[type[BaseModel], _Fields] = {
    resources.HostedZoneState: _Fields(
        Kind.HOSTED_ZONE, "zone_id", "name", details=("name_servers",)
    ),
    resources.CertificateState: _Fields(
        Kind.CERTIFICATE, "arn", "domain", status="status", details=("sans",)
    ),
    resources.OidcProviderState: _Fields(Kind.OIDC_PROVIDER, "arn", "url"),
    resources.PolicyState: _Fields(Kind.IAM_POLICY, "arn", "name", details=("default_version",)),
    resources.RoleState: _Fields(Kind.IAM_ROLE, "arn", "name"),
    # The ALB: created by the controller for our Ingress, so it goes when the Ingress goes.
    resources.LoadBalancerState: _Fields(
        Kind.LOAD_BALANCER,
        "arn",
        "dns_name",
        status="state",
        details=("canonical_hosted_zone_id",),
        owned=True,
    ),
}


def plain_resource(state: BaseModel) -> StackResource:
    """The entry of a state recorded as it is (a zone, certificate, OIDC provider, policy,
    role or load balancer)."""
    fields = next(fields for model, fields in _PLAIN.items() if isinstance(state, model))

    def text(attribute: str) -> str:
        value = getattr(state, attribute) if attribute else ""
        return ",".join(value) if isinstance(value, tuple) else str(value)

    return StackResource(
        kind=fields.kind,
        id=text(fields.id),
        name=text(fields.name),
        owned=fields.owned if isinstance(fields.owned, bool) else getattr(state, fields.owned),
        status=text(fields.status),
        details={detail: text(detail) for detail in fields.details},
    )


def zone_resource(zone: resources.HostedZoneState) -> StackResource:
    return plain_resource(zone)


def certificate_resource(certificate: resources.CertificateState) -> StackResource:
    return plain_resource(certificate)


def load_balancer_resource(balancer: resources.LoadBalancerState) -> StackResource:
    return plain_resource(balancer)


def delegation_resource(
    root_zone: resources.HostedZoneState, zone: resources.HostedZoneState, *, added: bool = False
) -> StackResource:
    """The NS record set in the root zone; ours when we made the subdomain zone it points at,
    or when this stack wrote it (`added`: to an adopted zone)."""
    return StackResource(
        kind=Kind.DELEGATION,
        id=f"{root_zone.zone_id}/{zone.name}/NS",
        name=zone.name,
        owned=zone.owned or added,
        details={"root_zone_id": root_zone.zone_id, "root": root_zone.name},
    )


def validation_resources(
    certificates: Iterable[resources.CertificateState],
) -> tuple[StackResource, ...]:
    """Validation CNAMEs placed in Route53 zones (one per name, shared by certificates)."""
    found: dict[str, resources.ValidationRecord] = {}
    owned: dict[str, bool] = {}
    for certificate in certificates:
        for record in certificate.validation_records:
            if record.zone_id is not None:
                found[record.name] = record
                owned[record.name] = owned.get(record.name, False) or certificate.owned
    return tuple(
        StackResource(
            kind=Kind.VALIDATION_RECORD,
            id=f"{record.zone_id}/{record.name}/CNAME",
            name=record.name,
            owned=owned[name],
            details={"zone_id": record.zone_id or "", "value": record.value},
        )
        for name, record in found.items()
    )


def subnet_tag_resources(changes: Iterable[resources.SubnetTagChange]) -> tuple[StackResource, ...]:
    """Only the tags this stack added (pre-existing ones are not recorded, so never removed)."""
    return tuple(
        StackResource(
            kind=Kind.SUBNET_TAG,
            id=f"{change.subnet_id}/{change.key}",
            name=change.key,
            owned=True,
            details={"subnet_id": change.subnet_id, "key": change.key, "value": change.value},
        )
        for change in changes
    )


def pod_identity_resource(association: resources.PodIdentityAssociationState) -> StackResource:
    return StackResource(
        kind=Kind.POD_IDENTITY,
        id=association.arn,
        name=f"{association.namespace}/{association.service_account}",
        owned=association.owned,
        details={"cluster": association.cluster_name, "role": association.role_arn},
    )


def controller_resource(outcome: ControllerOutcome) -> StackResource:
    return StackResource(
        kind=Kind.CONTROLLER,
        id=outcome.provider,
        name=f"IngressClass {outcome.ingress_class}",
        owned=outcome.installed,
        status="ready",
    )


def ingress_resource(state: IngressState) -> StackResource:
    return StackResource(
        kind=Kind.INGRESS,
        id=state.key,
        name=state.hostname or "",
        owned=True,
        status="address" if state.hostname else "pending",
    )


def gateway_resources(door: FrontDoorState) -> tuple[StackResource, ...]:
    """The Gateway front door (the stack's Gateway; its routes and configurations go with it)."""
    gateway = door.gateway
    if gateway is None:
        return ()
    programmed = gateway.condition("Programmed")
    return (
        StackResource(
            kind=Kind.GATEWAY,
            id=f"{gateway.namespace}/{gateway.name}",
            name=gateway.hostname or "",
            owned=True,
            status="programmed" if programmed and programmed.status == "True" else "pending",
        ),
    )


def dns_record_resource(
    zone: resources.HostedZoneState, record: resources.RecordSetState
) -> StackResource:
    target = record.alias.dns_name if record.alias else ",".join(record.values)
    return StackResource(
        kind=Kind.DNS_RECORD,
        id=f"{zone.zone_id}/{record.name}/{record.type}",
        name=record.name,
        owned=True,
        details={"zone_id": zone.zone_id, "type": record.type, "target": target},
    )


def resources_of(value: object) -> tuple[StackResource, ...]:
    """The record entries for what an apply step produced, chosen by the result's type."""
    if value is None:
        return ()
    if isinstance(value, StackResource):
        return (value,)
    if isinstance(value, IngressOutcome):
        return (ingress_resource(value.state),)
    if isinstance(value, resources.CertificateState):
        return (plain_resource(value), *validation_resources([value]))
    if isinstance(value, BaseModel) and isinstance(value, tuple(_PLAIN)):
        return (plain_resource(value),)
    if isinstance(value, resources.PodIdentityAssociationState):
        return (pod_identity_resource(value),)
    if isinstance(value, ControllerOutcome):
        return (controller_resource(value),)
    if isinstance(value, IngressState):
        return (ingress_resource(value),)
    if isinstance(value, FrontDoorOutcome):
        return gateway_resources(value.state)
    if isinstance(value, FrontDoorState):
        return gateway_resources(value)
    if isinstance(value, tuple | list) and all(
        isinstance(v, resources.SubnetTagChange) for v in value
    ):
        return subnet_tag_resources(value)
    if isinstance(value, tuple | list):
        return tuple(entry for item in value for entry in resources_of(item))
    raise TypeError(f"no stack record entry for a {type(value).__name__}")
