"""Observed states of AWS resources: frozen, pure models shared by tasks, the planner and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.dnsnames import normalise

#: Record types whose values are DNS names, compared case-insensitively without the trailing dot.
_NAME_VALUED = frozenset({"CNAME", "NS", "PTR", "MX", "SRV", "DNAME"})


class StateModel(BaseModel):
    """An observed state: frozen, and refusing fields it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CallerIdentity(StateModel):
    """Who the AWS credentials belong to."""

    account: str
    arn: str
    user_id: str = ""

    @property
    def partition(self) -> str:
        """`aws`, `aws-cn` or `aws-us-gov`, from the caller ARN."""
        parts = self.arn.split(":")
        return parts[1] if len(parts) > 1 and parts[1] else "aws"


class ClusterState(StateModel):
    """An EKS cluster as DescribeCluster reports it."""

    name: str
    region: str
    arn: str
    status: str
    version: str
    endpoint: str | None = None
    certificate_authority: str | None = None
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    oidc_issuer: str | None = None

    @property
    def oidc_host_path(self) -> str | None:
        """The issuer without `https://`: the IAM provider URL and the trust-condition prefix."""
        if not self.oidc_issuer:
            return None
        return self.oidc_issuer.removeprefix("https://").rstrip("/")


class HostedZoneState(StateModel):
    """A Route53 hosted zone; `owned` when it carries this stack's ownership tags."""

    zone_id: str = Field(description="Zone id without the /hostedzone/ prefix.")
    name: str = Field(description="Zone name, lower case, no trailing dot.")
    name_servers: tuple[str, ...] = ()
    private: bool = False
    owned: bool = False
    caller_reference: str = ""
    record_count: int = 0
    tags: dict[str, str] = Field(default_factory=dict)


class AliasTarget(StateModel):
    """The target of an alias record (an ALB's DNS name and canonical zone)."""

    hosted_zone_id: str
    dns_name: str
    evaluate_target_health: bool = False

    def key(self) -> tuple[str, str]:
        name = normalise(self.dns_name)
        return self.hosted_zone_id, name.removeprefix("dualstack.")


class RecordSetState(StateModel):
    """One resource record set (name + type) of a hosted zone."""

    name: str
    type: str
    ttl: int | None = None
    values: tuple[str, ...] = ()
    alias: AliasTarget | None = None

    def key(self) -> tuple[str, str]:
        """The identity of a record set in a zone: normalised name and type."""
        return normalise(self.name), self.type.upper()

    def same_as(self, other: RecordSetState) -> bool:
        """True when both say the same thing (names and name values compared normalised)."""
        if self.key() != other.key():
            return False
        if (self.alias is None) != (other.alias is None):
            return False
        if self.alias is not None and other.alias is not None:
            return self.alias.key() == other.alias.key()
        return self.ttl == other.ttl and self._value_set() == other._value_set()

    def _value_set(self) -> frozenset[str]:
        if self.type.upper() in _NAME_VALUED:
            return frozenset(normalise(value) for value in self.values)
        return frozenset(self.values)


class RecordChange(StateModel):
    """A change for ChangeResourceRecordSets; DELETE needs only name and type (values are read)."""

    action: Literal["CREATE", "UPSERT", "DELETE"]
    record: RecordSetState


class ChangeResult(StateModel):
    """What change_records did to one zone: the changes sent and the no-ops skipped."""

    zone_id: str
    change_id: str | None = None
    applied: tuple[RecordChange, ...] = ()
    skipped: tuple[RecordChange, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.applied)


class CertificateRequest(StateModel):
    """A certificate the stack needs: the primary name and the other names, in a role."""

    role: Literal["subdomain", "root"]
    domain: str
    sans: tuple[str, ...] = ()
    arn: str | None = Field(
        default=None,
        description="An existing certificate to use (route53.*.certARN): used, never requested.",
    )

    @property
    def names(self) -> frozenset[str]:
        return frozenset((normalise(self.domain), *(normalise(name) for name in self.sans)))


class ValidationZones(StateModel):
    """Where validation records go: the subdomain's zone, or the root's (None: not in Route53)."""

    subdomain: str
    subdomain_zone_id: str | None = None
    root: str
    root_zone_id: str | None = None


class ValidationRecord(StateModel):
    """A DNS validation CNAME of a certificate and the zone it belongs in."""

    domains: tuple[str, ...] = Field(description="The certificate names this record validates.")
    name: str
    type: str = "CNAME"
    value: str
    zone_id: str | None = Field(
        default=None, description="Route53 zone to hold it; None: add it by hand at your DNS host."
    )
    zone_name: str

    def as_record(self, ttl: int = 300) -> RecordSetState:
        return RecordSetState(name=self.name, type=self.type, ttl=ttl, values=(self.value,))


class CertificateState(StateModel):
    """An ACM certificate with its validation records (placed in zones) and its users."""

    arn: str
    domain: str
    sans: tuple[str, ...] = ()
    status: str
    validation_records: tuple[ValidationRecord, ...] = ()
    in_use_by: tuple[str, ...] = ()
    not_after: datetime | None = None
    failure_reason: str | None = None
    owned: bool = False
    tags: dict[str, str] = Field(default_factory=dict)

    def days_to_expiry(self, now: datetime) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - now).total_seconds() / 86_400


class SubnetState(StateModel):
    """A cluster subnet, classified public (default route to an internet gateway) or private."""

    subnet_id: str
    vpc_id: str
    public: bool
    availability_zone: str = ""
    route_table_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class SubnetTagChange(StateModel):
    """One tag added to one subnet (recorded so cleanup removes exactly that)."""

    subnet_id: str
    key: str
    value: str


class OidcProviderState(StateModel):
    """The IAM OIDC identity provider for the cluster's issuer."""

    arn: str
    url: str
    client_ids: tuple[str, ...] = ()
    thumbprints: tuple[str, ...] = ()
    owned: bool = False
    tags: dict[str, str] = Field(default_factory=dict)


class PolicyState(StateModel):
    """The controller's customer-managed IAM policy."""

    arn: str
    name: str
    default_version: str
    document_matches: bool
    version_count: int = Field(default=1, description="Versions of the policy; 0 when not counted.")
    attachment_count: int = 0
    owned: bool = False
    tags: dict[str, str] = Field(default_factory=dict)


class RoleState(StateModel):
    """The controller's IRSA role."""

    arn: str
    name: str
    trust_matches: bool
    attached_policy_arns: tuple[str, ...] = ()
    owned: bool = False
    tags: dict[str, str] = Field(default_factory=dict)


class PodIdentityAssociationState(StateModel):
    """The EKS Pod Identity association of the controller's service account."""

    association_id: str
    arn: str
    cluster_name: str
    namespace: str
    service_account: str
    role_arn: str
    owned: bool = False
    tags: dict[str, str] = Field(default_factory=dict)


class ActionState(StateModel):
    """A listener's or rule's action: forward, redirect or fixed response."""

    type: str
    target_group_arns: tuple[str, ...] = Field(default=(), description="forward only.")
    redirect_protocol: str | None = None
    redirect_port: str | None = None
    redirect_host: str | None = None
    redirect_path: str | None = None
    redirect_query: str | None = None
    status_code: str | None = Field(
        default=None, description="HTTP_301/HTTP_302 (redirect) or the fixed response's code."
    )
    content_type: str | None = None


class RuleState(StateModel):
    """A listener rule that is not the default one."""

    arn: str
    priority: str
    conditions: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Field (host-header, path-pattern...) -> its values."
    )
    actions: tuple[ActionState, ...] = ()


class ListenerState(StateModel):
    """A load balancer listener, with its certificates, policy, default actions and rules."""

    arn: str
    port: int
    protocol: str
    certificate_arns: tuple[str, ...] = Field(
        default=(), description="The default certificate first, then the SNI ones."
    )
    ssl_policy: str | None = None
    default_actions: tuple[ActionState, ...] = ()
    rules: tuple[RuleState, ...] | None = Field(
        default=None, description="Non-default rules; None: not read (redirecting listeners)."
    )


class TargetGroupState(StateModel):
    """A target group a listener forwards to, with its health check and tags."""

    arn: str
    name: str
    target_type: str
    protocol: str | None = None
    port: int | None = None
    protocol_version: str | None = None
    health_check_enabled: bool = True
    health_check_protocol: str | None = None
    health_check_port: str | None = None
    health_check_path: str | None = None
    health_check_interval_seconds: int | None = None
    health_check_timeout_seconds: int | None = None
    healthy_threshold_count: int | None = None
    unhealthy_threshold_count: int | None = None
    success_codes: str | None = Field(default=None, description="Matcher.HttpCode.")
    tags: dict[str, str] = Field(default_factory=dict)


class LoadBalancerState(StateModel):
    """An ELBv2 load balancer: listeners, the target groups they forward to, attributes, tags."""

    arn: str
    name: str
    dns_name: str
    state: str
    scheme: str
    type: str = "application"
    vpc_id: str | None = None
    canonical_hosted_zone_id: str
    security_group_ids: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()
    ip_address_type: str | None = None
    waf_acl_arn: str | None = Field(
        default=None, description="The associated WAFv2 web ACL; None: none, or not read."
    )
    inbound_cidrs: tuple[str, ...] | None = Field(
        default=None,
        description="Client CIDRs the ALB's managed security group admits; None: not read.",
    )
    listeners: tuple[ListenerState, ...] = ()
    target_groups: tuple[TargetGroupState, ...] = ()
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    owned: bool = False


class ControllerResources(StateModel):
    """What the AWS Load Balancer Controller made for this stack (cleanup's fallback list)."""

    load_balancer_arns: tuple[str, ...] = ()
    target_group_arns: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.load_balancer_arns or self.target_group_arns or self.security_group_ids)


class ApiCall(StateModel):
    """How often one AWS operation was called."""

    service: str
    operation: str
    mutating: bool
    count: int


class ApiCallCounts(StateModel):
    """A snapshot of AWS API call counts; subtract two snapshots to see what a run did."""

    calls: tuple[ApiCall, ...] = ()

    @property
    def mutating(self) -> int:
        return sum(call.count for call in self.calls if call.mutating)

    @property
    def reads(self) -> int:
        return sum(call.count for call in self.calls if not call.mutating)

    def mutating_calls(self) -> tuple[ApiCall, ...]:
        return tuple(call for call in self.calls if call.mutating)

    def since(self, before: ApiCallCounts) -> ApiCallCounts:
        """The calls made after `before` was taken."""
        earlier = {(call.service, call.operation): call.count for call in before.calls}
        calls = []
        for call in self.calls:
            count = call.count - earlier.get((call.service, call.operation), 0)
            if count > 0:
                calls.append(call.model_copy(update={"count": count}))
        return ApiCallCounts(calls=tuple(calls))
