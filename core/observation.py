"""What a read-only look at a stack found (pure): what was seen, nothing desired. Setup, drift
and `kfalb plan` read the stack's items; cleanup's look also sweeps by the stack's marks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core import naming
from core.dnsnames import is_under, normalise
from core.gateway_state import CrdsState, FrontDoorState
from core.kubestate import ControllerState, IngressState
from core.manifests import Manifest
from core.resources import (
    CallerIdentity,
    CertificateState,
    ClusterState,
    ControllerResources,
    HostedZoneState,
    LoadBalancerState,
    OidcProviderState,
    PodIdentityAssociationState,
    PolicyState,
    RecordSetState,
    RoleState,
    SubnetState,
    SubnetTagChange,
    ValidationRecord,
    ValidationZones,
)
from core.spec import StackSpec


class Sweep(BaseModel):
    """What carries the stack's marks beyond its declared items (cleanup's look): every
    certificate with its mark, the records it placed, the tags it added, what the ALB
    controller made for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    certificates: tuple[CertificateState, ...] = ()  # every one in the region with its mark
    validation_records: tuple[ValidationRecord, ...] = ()  # ours, still in Route53
    dashboard_records: tuple[RecordSetState, ...] = ()  # `*.<subdomain>` and recorded ones
    subnet_tags: tuple[SubnetTagChange, ...] = ()  # added by the stack, still there
    oidc_providers: tuple[OidcProviderState, ...] = ()  # carrying the stack's tags
    legacy_policy: PolicyState | None = None  # the previous version's per-stack policy
    legacy_role: RoleState | None = None  # the previous version's per-stack role
    kubernetes: bool = False  # False: the cluster is gone, nothing was looked at in it
    controller_objects: tuple[str, ...] = ()  # controller objects with the stack's labels
    ingress_bindings: tuple[str, ...] = ()  # TargetGroupBindings the controller made for it
    load_balancers: ControllerResources = ControllerResources()
    backend_security_group: str | None = None  # the controller's, per cluster, no longer used


class Observation(BaseModel):
    """Everything a read-only look at a stack found (None: not found, or not looked at)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    observed_at: datetime
    identity: CallerIdentity | None = None
    cluster: ClusterState | None = None
    subnets: tuple[SubnetState, ...] = ()
    root_zone: HostedZoneState | None = None
    root_refused: str = Field(
        default="",
        description="Why the root zone's role could not be assumed (cleanup goes on "
        "without it: the root zone and its records are then as the block recorded them).",
    )
    zone: HostedZoneState | None = None
    delegation: RecordSetState | None = None
    certificates: dict[str, CertificateState] = Field(
        default_factory=dict, description="The stack's certificates by requested domain."
    )
    validation_records: dict[str, RecordSetState | None] = Field(
        default_factory=dict, description="Validation CNAMEs in Route53 zones, by name."
    )
    controller: ControllerState | None = None
    controller_recorded: bool = Field(default=False, description="The block says we installed it.")
    oidc_provider: OidcProviderState | None = None
    policy: PolicyState | None = None
    role: RoleState | None = None
    pod_identity: PodIdentityAssociationState | None = None
    pod_identity_agent: str | None = Field(
        default=None, description="Status of the eks-pod-identity-agent add-on (None: absent)."
    )
    ingress: IngressState | None = None
    ingress_source: Manifest | None = Field(
        default=None,
        description="The Ingress as its source renders it (bundled base or stack.manifestsPath), "
        "before the stack's parameters.",
    )
    gateway_target_port: int | None = Field(
        default=None, description="The gateway pods' port behind the Service port (ip targets)."
    )
    gateway_source: tuple[Manifest, ...] | None = Field(
        default=None,
        description="The Gateway front door's objects as the bundled base renders them, before "
        "the stack's parameters (read only for stack.frontDoor: gateway).",
    )
    gateway: FrontDoorState | None = Field(
        default=None, description="The stack's Gateway front door objects found."
    )
    gateway_crds: CrdsState | None = Field(
        default=None, description="The Gateway API CRDs (read only for a Gateway front door)."
    )
    load_balancer: LoadBalancerState | None = None
    zone_records: tuple[RecordSetState, ...] = Field(
        default=(), description="Every record set of the subdomain's zone (one listing)."
    )
    dashboard_record: RecordSetState | None = None
    dashboard_aaaa: RecordSetState | None = Field(
        default=None, description="The AAAA alias of a dualstack ALB (read only for dualstack)."
    )
    host_answers: tuple[str, ...] = ()
    alb_answers: tuple[str, ...] = ()
    https_ok: bool | None = Field(default=None, description="None: the host does not resolve.")
    https_detail: str = ""
    sweep: Sweep | None = Field(default=None, description="Cleanup's look by the stack's marks.")


def controller_is_ours(spec: StackSpec, seen: Observation) -> bool:
    """Whether the stack installs the controller (so its IAM is ours too), as setup decides."""
    if spec.stack.controller != "auto":
        return spec.stack.controller == "install"
    found = seen.controller
    return seen.controller_recorded or found is None or found.owned or not found.usable


def ingress_class(spec: StackSpec, seen: Observation) -> str:
    """The IngressClass the Ingress should name: ours, or the one of the controller in use."""
    if controller_is_ours(spec, seen) or seen.controller is None:
        return naming.INGRESS_CLASS
    return seen.controller.ingress_class or naming.INGRESS_CLASS


def validation_zones(
    spec: StackSpec, zone: HostedZoneState | None, root_zone: HostedZoneState | None
) -> ValidationZones:
    """Where the certificates' validation records belong (None: not in Route53)."""
    return ValidationZones(
        subdomain=spec.subdomain,
        subdomain_zone_id=zone.zone_id if zone else None,
        root=spec.root,
        root_zone_id=root_zone.zone_id if root_zone else None,
    )


def place(zones: ValidationZones, name: str) -> tuple[str | None, str]:
    """The zone (id, name) a validation record belongs in; id None: "add it by hand"."""
    record = normalise(name)
    if record == zones.subdomain or is_under(record, zones.subdomain):
        return zones.subdomain_zone_id, zones.subdomain
    if record == zones.root or is_under(record, zones.root):
        return zones.root_zone_id, zones.root
    return None, ""


def placed(certificate: CertificateState, zones: ValidationZones) -> CertificateState:
    """The certificate with its validation records placed in these zones (a zone made after
    the certificate was requested)."""
    records = []
    for record in certificate.validation_records:
        zone_id, zone_name = place(zones, record.name)
        records.append(record.model_copy(update={"zone_id": zone_id, "zone_name": zone_name}))
    return certificate.model_copy(update={"validation_records": tuple(records)})
