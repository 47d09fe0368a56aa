"""Turn observed states into the stack record's resources (what cleanup and reports read)."""

from __future__ import annotations

from collections.abc import Iterable

from core.gateway_state import FrontDoorOutcome, FrontDoorState
from core.kubestate import ControllerOutcome, IngressOutcome, IngressState
from core.resources import (
    CertificateState,
    HostedZoneState,
    LoadBalancerState,
    OidcProviderState,
    PodIdentityAssociationState,
    PolicyState,
    RecordSetState,
    RoleState,
    SubnetTagChange,
    ValidationRecord,
)
from core.state import Kind, StackResource


def zone_resource(zone: HostedZoneState) -> StackResource:
    return StackResource(
        kind=Kind.HOSTED_ZONE,
        id=zone.zone_id,
        name=zone.name,
        owned=zone.owned,
        details={"name_servers": ",".join(zone.name_servers)},
    )


def delegation_resource(
    root_zone: HostedZoneState, zone: HostedZoneState, *, added: bool = False
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


def certificate_resource(certificate: CertificateState) -> StackResource:
    return StackResource(
        kind=Kind.CERTIFICATE,
        id=certificate.arn,
        name=certificate.domain,
        owned=certificate.owned,
        status=certificate.status,
        details={"sans": ",".join(certificate.sans)},
    )


def validation_resources(
    certificates: Iterable[CertificateState],
) -> tuple[StackResource, ...]:
    """Validation CNAMEs placed in Route53 zones (one per name, shared by certificates)."""
    found: dict[str, ValidationRecord] = {}
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


def subnet_tag_resources(changes: Iterable[SubnetTagChange]) -> tuple[StackResource, ...]:
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


def oidc_resource(provider: OidcProviderState) -> StackResource:
    return StackResource(
        kind=Kind.OIDC_PROVIDER, id=provider.arn, name=provider.url, owned=provider.owned
    )


def policy_resource(policy: PolicyState) -> StackResource:
    return StackResource(
        kind=Kind.IAM_POLICY,
        id=policy.arn,
        name=policy.name,
        owned=policy.owned,
        details={"default_version": policy.default_version},
    )


def role_resource(role: RoleState) -> StackResource:
    return StackResource(kind=Kind.IAM_ROLE, id=role.arn, name=role.name, owned=role.owned)


def pod_identity_resource(association: PodIdentityAssociationState) -> StackResource:
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


def load_balancer_resource(balancer: LoadBalancerState) -> StackResource:
    """The ALB: created by the controller for our Ingress, so it goes when the Ingress goes."""
    return StackResource(
        kind=Kind.LOAD_BALANCER,
        id=balancer.arn,
        name=balancer.dns_name,
        owned=True,
        status=balancer.state,
        details={"canonical_hosted_zone_id": balancer.canonical_hosted_zone_id},
    )


def dns_record_resource(zone: HostedZoneState, record: RecordSetState) -> StackResource:
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
    if isinstance(value, HostedZoneState):
        return (zone_resource(value),)
    if isinstance(value, CertificateState):
        return (certificate_resource(value), *validation_resources([value]))
    if isinstance(value, OidcProviderState):
        return (oidc_resource(value),)
    if isinstance(value, PolicyState):
        return (policy_resource(value),)
    if isinstance(value, RoleState):
        return (role_resource(value),)
    if isinstance(value, PodIdentityAssociationState):
        return (pod_identity_resource(value),)
    if isinstance(value, ControllerOutcome):
        return (controller_resource(value),)
    if isinstance(value, IngressState):
        return (ingress_resource(value),)
    if isinstance(value, FrontDoorOutcome):
        return gateway_resources(value.state)
    if isinstance(value, FrontDoorState):
        return gateway_resources(value)
    if isinstance(value, LoadBalancerState):
        return (load_balancer_resource(value),)
    if isinstance(value, tuple | list) and all(isinstance(v, SubnetTagChange) for v in value):
        return subnet_tag_resources(value)
    if isinstance(value, tuple | list):
        return tuple(entry for item in value for entry in resources_of(item))
    raise TypeError(f"no stack record entry for a {type(value).__name__}")
