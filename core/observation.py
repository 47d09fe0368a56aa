"""What a read-only look at a stack found: the facts its desired state depends on (pure)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core import naming
from core.kubestate import ControllerState, IngressState
from core.resources import (
    CallerIdentity,
    CertificateRequest,
    CertificateState,
    ClusterState,
    HostedZoneState,
    LoadBalancerState,
    OidcProviderState,
    PodIdentityAssociationState,
    PolicyState,
    RecordSetState,
    RoleState,
    SubnetState,
    ValidationZones,
)
from core.spec import StackSpec


class Observation(BaseModel):
    """Everything a read-only look at a stack found (None: not found, or not looked at)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    observed_at: datetime
    identity: CallerIdentity | None = None
    cluster: ClusterState | None = None
    subnets: tuple[SubnetState, ...] = ()
    subnet_tags: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Subnet id -> the discovery tags it should carry."
    )
    root_zone: HostedZoneState | None = None
    zone: HostedZoneState | None = None
    delegation: RecordSetState | None = None
    certificate_requests: tuple[CertificateRequest, ...] = ()
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
    desired_ingress: dict[str, str] = Field(
        default_factory=dict, description="Declared fields of the rendered Ingress."
    )
    desired_alb: dict[str, str] = Field(
        default_factory=dict,
        description="Declared fields of the ALB the controller builds from the rendered Ingress.",
    )
    gateway_target_port: int | None = Field(
        default=None, description="The gateway pods' port behind the Service port (ip targets)."
    )
    load_balancer: LoadBalancerState | None = None
    dashboard_record: RecordSetState | None = None
    dashboard_aaaa: RecordSetState | None = Field(
        default=None, description="The AAAA alias of a dualstack ALB (read only for dualstack)."
    )
    host_answers: tuple[str, ...] = ()
    alb_answers: tuple[str, ...] = ()
    https_ok: bool | None = Field(default=None, description="None: the host does not resolve.")
    https_detail: str = ""

    def certificate_arns(self) -> tuple[str, ...]:
        """ARNs of the stack's certificates found, in request order (the first is the default)."""
        found = (self.certificates.get(r.domain) for r in self.certificate_requests)
        return tuple(state.arn for state in found if state is not None)


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
