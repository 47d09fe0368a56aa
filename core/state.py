"""The record of a stack: every resource setup created or adopted, kept so cleanup can undo it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Kind(StrEnum):
    """Kinds of resources a stack is made of, in the order setup creates them."""

    HOSTED_ZONE = "hosted-zone"
    DELEGATION = "ns-delegation"
    CERTIFICATE = "certificate"
    VALIDATION_RECORD = "validation-record"
    SUBNET_TAG = "subnet-tag"
    OIDC_PROVIDER = "oidc-provider"
    IAM_POLICY = "iam-policy"
    IAM_ROLE = "iam-role"
    #: EKS Pod Identity (stack.controllerIdentity pod-identity): the role for the controller's SA.
    POD_IDENTITY = "pod-identity-association"
    #: The Gateway API CRDs a Gateway front door needs (stack.frontDoor: gateway), when missing.
    GATEWAY_API = "gateway-api"
    CONTROLLER = "controller"
    INGRESS = "ingress"
    #: The Gateway front door: GatewayClass, Gateway, its HTTPRoutes and configurations.
    GATEWAY = "gateway"
    LOAD_BALANCER = "load-balancer"
    #: Checked, never created: the dashboard over HTTPS through the ALB's own address (the
    #: dashboard's name as SNI), before the record moves to that ALB from another.
    ALB_ANSWER = "alb-answer"
    DNS_RECORD = "dns-record"
    #: Checked, never created: the dashboard name's answers, and the dashboard over HTTPS.
    DNS_ANSWER = "dns-answer"
    HTTPS_ANSWER = "https-answer"
    #: The other front door of a stack that switched (stack.frontDoor): removed once the
    #: dashboard answers through the new one.
    FORMER_FRONT_DOOR = "former-front-door"


#: Kinds whose ownership a later run cannot see (an NS record the stack wrote looks like any
#: other): once recorded as the stack's, they stay its own.
_STICKY = frozenset({Kind.DELEGATION})


class StackResource(BaseModel):
    """One resource: what it is, its id, and whether this stack created it (owned) or adopted it."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    id: str = Field(description="ARN, zone id, or namespace/name.")
    name: str = Field(default="", description="Human name (domain, record, object name).")
    owned: bool = Field(description="True when this stack created it; cleanup removes only these.")
    status: str = Field(default="", description="Last status seen (e.g. ISSUED, active).")
    details: dict[str, str] = Field(default_factory=dict, description="Extra facts for cleanup.")

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind.value, self.id)


class Forgotten(BaseModel):
    """Resources a step removed: the stack's record forgets them (what a step made is recorded
    by its result's type; what it removed, by this)."""

    model_config = ConfigDict(frozen=True)

    entries: tuple[tuple[Kind, str], ...] = ()


class StackAccess(BaseModel):
    """How a stack's world is reached, so a fleet check uses each stack's own access."""

    model_config = ConfigDict(frozen=True)

    credentials_block: str | None = Field(
        default=None, description="prefect-aws AwsCredentials block; empty: the default AWS chain."
    )
    region: str = Field(default="", description="AWS region of the cluster.")
    account: str = Field(default="", description="AWS account the stack was set up in.")
    kube_access: str = Field(default="kubeconfig", description="kubeconfig or eks.")
    kube_context: str | None = Field(
        default=None, description="kubeconfig context (kube_access kubeconfig); empty: current."
    )


class StackRecord(BaseModel):
    """Everything known about one stack; immutable, updated by returning a new record."""

    model_config = ConfigDict(frozen=True)

    stack: str
    spec: dict[str, object] = Field(default_factory=dict)
    phase: str = Field(default="new", description="new, setting-up, ready, cleaning-up, deleted.")
    resources: tuple[StackResource, ...] = ()
    # The world the ids belong to (empty until a run binds the record; see core.world_binding).
    account: str = Field(default="", description="AWS account id of every resource.")
    partition: str = Field(default="", description="AWS partition (aws, aws-cn, aws-us-gov).")
    region: str = Field(default="", description="AWS region of the cluster.")
    cluster_arn: str = Field(default="", description="ARN of the EKS cluster.")
    dashboard_url: str = Field(default="", description="The Kubeflow dashboard, once ready.")
    access: StackAccess | None = Field(
        default=None, description="How the stack's AWS account and cluster are reached."
    )

    def with_resources(self, *items: StackResource) -> StackRecord:
        """Add or replace resources (matched by kind and id), keeping the order of first sight."""
        merged = {item.key: item for item in self.resources}
        for item in items:
            before = merged.get(item.key)
            if before is not None and before.owned and item.kind in _STICKY:
                item = item.model_copy(update={"owned": True})  # a re-run found ours in place
            merged[item.key] = item
        return self.model_copy(update={"resources": tuple(merged.values())})

    def without(self, kind: Kind, resource_id: str) -> StackRecord:
        """This record without one resource (after cleanup deleted it)."""
        kept = tuple(item for item in self.resources if item.key != (kind.value, resource_id))
        return self.model_copy(update={"resources": kept})

    def forgetting(self, forgotten: Forgotten) -> StackRecord:
        """This record without the resources a step removed."""
        gone = {(kind.value, resource_id) for kind, resource_id in forgotten.entries}
        kept = tuple(item for item in self.resources if item.key not in gone)
        return self.model_copy(update={"resources": kept})

    def of_kind(self, kind: Kind) -> tuple[StackResource, ...]:
        return tuple(item for item in self.resources if item.kind is kind)

    def first(self, kind: Kind) -> StackResource | None:
        found = self.of_kind(kind)
        return found[0] if found else None

    def in_phase(self, phase: str) -> StackRecord:
        return self.model_copy(update={"phase": phase})
