"""The stack spec: the original guide's config.yaml shape plus our options, validated and frozen."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, create_model, model_validator

from core import alb_options, limits, naming
from core.controller_versions import BUNDLED_VERSIONS, DEFAULT_CONTROLLER_VERSION, gateway_problem
from core.dnsnames import is_under
from core.errors import SpecError
from core.policy_spec import PolicyMode, PolicyWaiver, unique_waivers
from core.spec_loader import describe_errors, parse_yaml
from core.spec_model import SpecModel as _Model
from core.spec_values import (
    CertificateArn,
    ClusterName,
    ControllerVersion,
    DnsName,
    ExternalId,
    GroupName,
    ManifestsPath,
    NoneIsEmpty,
    ObjectName,
    PolicyArn,
    Region,
    RoleArn,
    Sans,
    StackName,
    Tags,
    ZoneId,
    certificate_arn,
    certificate_arn_field,
    hosted_zone_id,
    region_partition,
)

__all__ = ["certificate_arn", "hosted_zone_id", "region_partition"]


class Cluster(_Model):
    """The EKS cluster that runs Kubeflow."""

    name: ClusterName = Field(description="EKS cluster name.")
    region: Region = Field(description="AWS region of the cluster, e.g. us-west-2.")


class RootDomain(_Model):
    """The domain you own; its zone gets the delegation of the subdomain."""

    name: DnsName = Field(description="Root domain, e.g. example.com.")
    hosted_zone_id: ZoneId = Field(
        default=None,
        description="Route53 public hosted zone id of the root domain. Empty: looked up by name; "
        "if the root is not in Route53 the flow prints the NS records to add at your DNS provider.",
    )
    cert_arn: CertificateArn = certificate_arn_field("*.<root domain>")
    role_arn: RoleArn = Field(
        default=None,
        description="An IAM role in the AWS account that owns the root zone (a DNS account), "
        "e.g. `arn:aws:iam::210987654321:role/kfalb-root-dns`. When set, every Route53 call on the "
        "root zone (its lookup, the NS delegation, the root certificate's validation records, "
        "their cleanup) is made with this role assumed (`sts:AssumeRole`); everything else stays "
        "in the cluster's account. Its trust policy must allow the identity running the flows.",
    )
    external_id: ExternalId = Field(
        default=None,
        description="The `sts:ExternalId` the role's trust policy asks for, if any (with roleArn).",
    )

    @model_validator(mode="after")
    def _role(self) -> RootDomain:
        if self.external_id is not None and self.role_arn is None:
            raise ValueError(
                "route53.rootDomain.externalId is set without route53.rootDomain.roleArn; it is "
                "only sent when the role is assumed"
            )
        return self


class SubDomain(_Model):
    """The subdomain Kubeflow is served under; it gets its own hosted zone."""

    name: DnsName = Field(description="Subdomain, e.g. platform.example.com.")
    subject_alternative_names: Sans = Field(
        default=(),
        description="Extra names for the subdomain certificate, each within the subdomain.",
    )
    hosted_zone_id: ZoneId = Field(
        default=None,
        description="The subdomain's hosted zone id, as the kubeflow-manifests script writes it "
        "back: `kfalb import` reads the zone by this id; setup and drift find it by name.",
    )
    cert_arn: CertificateArn = certificate_arn_field("*.<subdomain>")


class Route53(_Model):
    """Root domain and subdomain."""

    root_domain: RootDomain = Field(description="The domain you own.")
    sub_domain: SubDomain = Field(description="The subdomain for Kubeflow.")


class ServiceAccount(_Model):
    """The controller's service account as the kubeflow-manifests script writes it back."""

    name: str = Field(description="Service account name (the script: alb-ingress-controller).")
    namespace: str = Field(description="Its namespace (the script: kubeflow).")
    policy_arn: PolicyArn = Field(
        default=None, description="The IAM policy the script made for the controller."
    )


class AlbBase(_Model):
    """Load balancer options: the scheme, what the script writes back, and (added from the option
    table, core/alb_options.py) the ALB options."""

    scheme: Literal["internet-facing", "internal"] = Field(
        default="internet-facing", description="internet-facing or internal."
    )
    dns: str | None = Field(
        default=None,
        description="The ALB's DNS name as the kubeflow-manifests script writes it back "
        "(informational: the ALB is found through the Ingress).",
    )
    service_account: ServiceAccount | None = Field(
        default=None,
        description="The controller's service account as the kubeflow-manifests script writes it "
        "back (read by `kfalb import`).",
    )


if TYPE_CHECKING:
    Alb = AlbBase  # its options are read through their table entries (`option.of(alb)`)
else:
    Alb = create_model(
        "Alb",
        __base__=AlbBase,
        __doc__="Load balancer options.",
        __module__=__name__,
        __validators__=alb_options.spec_validators(),
        **alb_options.spec_fields(),
    )


class Kubeflow(_Model):
    """Kubeflow options."""

    alb: Alb = Field(default_factory=Alb, description="Load balancer options.")


class StackOptions(_Model):
    """Options of kubeflow-alb beyond the original guide's config."""

    name: StackName = Field(
        default=None,
        description="Stack name, the ownership mark on every resource. Default: from the subdomain.",
    )
    root_certificate: bool = Field(
        default=True, description="Also request `*.<root domain>`, as the original guide does."
    )
    record_type: Literal["alias", "cname"] = Field(
        default="alias", description="`*.<subdomain>` record: alias A to the ALB, or CNAME."
    )
    controller: Literal["auto", "install", "skip"] = Field(
        default="auto",
        description="AWS Load Balancer Controller: auto (use an existing one, else install), "
        "install, or skip (you manage it).",
    )
    controller_version: ControllerVersion = Field(
        default=DEFAULT_CONTROLLER_VERSION,
        description="AWS Load Balancer Controller version to install (with its IAM policy), one "
        f"of the bundled {', '.join(BUNDLED_VERSIONS)}. Changing it on a set-up stack upgrades "
        "the controller and its policy on the next setup; drift reports the mismatch until then.",
        json_schema_extra={"enum": list(BUNDLED_VERSIONS)},
    )
    manifests_path: ManifestsPath = Field(
        default=None,
        description="A kustomize directory with the Ingress to use instead of the bundled one "
        "(e.g. kubeflow-manifests deployments/add-ons/load-balancer).",
    )
    tags: Tags = Field(default_factory=dict, description="Extra tags for AWS resources.")
    controller_identity: Literal["irsa", "pod-identity"] = Field(
        default="irsa",
        description="How the installed controller gets its AWS rights: irsa (an IAM role trusted "
        "through the cluster's OIDC provider, the service account annotated with it) or "
        "pod-identity (an EKS Pod Identity association; needs the eks-pod-identity-agent add-on, "
        "no OIDC provider).",
    )
    adopt_zone: bool = Field(
        default=False,
        description="Use a public hosted zone of the subdomain that kubeflow-alb did not create: "
        "setup writes its records into it and delegates the root domain to it; cleanup removes "
        "those records (and a delegation it added) but never the zone. Default: refuse it.",
    )
    ingress_name: ObjectName = Field(
        default=naming.INGRESS_NAME,
        description="Name of the stack's Ingress in istio-system (default istio-ingress, the "
        "guide's); give each stack on one cluster its own.",
    )
    ingress_group: GroupName = Field(
        default=None,
        description="ALB IngressGroup (alb.ingress.kubernetes.io/group.name): stacks with the same "
        "group on one cluster share one ALB. Empty: the Ingress has an ALB of its own.",
    )
    policy: PolicyMode = Field(
        default="advisory",
        description="Policy checks of every plan (AWS Security Hub's ALB controls and more): "
        "advisory shows the findings in the plan; mandatory also stops setup and remediation "
        "before any change while a finding is not waived.",
    )
    policy_waivers: Annotated[
        tuple[PolicyWaiver, ...], NoneIsEmpty, AfterValidator(unique_waivers)
    ] = Field(
        default=(),
        description="Rules this stack does not have to meet: [{id: ELB.5, reason: ...}]; each "
        "plan shows the rule as waived, with the reason.",
    )

    approval: Literal["none", "required"] = Field(
        default="none",
        description="required: setup and drift remediation publish the plan, then wait for a "
        "reviewer to approve it in the Prefect UI (a form on the run) before applying exactly "
        "it; a rejection or no answer in KFALB_APPROVAL_TIMEOUT_SECONDS applies nothing.",
    )
    front_door: Literal["ingress", "gateway"] = Field(
        default="ingress",
        description="What the ALB controller builds the ALB from: ingress (an Ingress of class "
        "alb) or gateway (a Gateway API Gateway with HTTPRoutes and the controller's "
        "LoadBalancerConfiguration; needs controller v3.x, installs the Gateway API v1.6 "
        "standard CRDs when the cluster has none). The ALB is the same.",
    )


class StackSpec(_Model):
    """What to expose: the cluster, the domains, the ALB scheme and kubeflow-alb options."""

    cluster: Cluster = Field(description="The EKS cluster.")
    route53: Route53 = Field(description="Domains.")
    kubeflow: Kubeflow = Field(default_factory=Kubeflow, description="Kubeflow options.")
    stack: StackOptions = Field(default_factory=StackOptions, description="kubeflow-alb options.")

    @model_validator(mode="after")
    def _rules(self) -> StackSpec:
        """The rules across fields, checked in order: the first problem found refuses the spec
        (a rule stops being read at its first problem)."""
        rules = (
            self._domain_problems,
            self._region_problems,
            self._front_door_problems,
            self._partition_problems,
        )
        problem = next(chain.from_iterable(rule() for rule in rules), None)
        if problem is not None:
            raise ValueError(problem)
        return self

    def _domain_problems(self) -> Iterator[str]:
        root, sub = self.route53.root_domain.name, self.route53.sub_domain.name
        sans = self.route53.sub_domain.subject_alternative_names
        if sub == root:
            yield (
                f"route53.subDomain.name {sub!r} equals the root domain; use a subdomain "
                f"such as platform.{root}"
            )
        if not is_under(sub, root):
            yield f"route53.subDomain.name {sub!r} is not under the root domain {root!r}"
        for san in sans:
            if san != sub and not is_under(san, sub):
                yield (
                    f"route53.subDomain.subjectAlternativeNames: {san!r} is outside the subdomain "
                    f"{sub!r}; its validation record could not be created in the subdomain zone"
                )
        problem = limits.certificate_names_problem(sub, sans=sans)
        if problem:
            yield problem

    def _region_problems(self) -> Iterator[str]:
        """The ALB can use only resources of the cluster's region (and one IP family)."""
        region, alb = self.cluster.region, self.kubeflow.alb
        waf, cidrs = alb_options.WAF_ACL_ARN, alb_options.INBOUND_CIDRS
        arns = {
            waf.setting: waf.of(alb),
            "route53.subDomain.certARN": self.route53.sub_domain.cert_arn,
            "route53.rootDomain.certARN": self.route53.root_domain.cert_arn,
        }
        for where, arn in arns.items():
            if arn is not None and arn.split(":")[3] != region:
                yield (
                    f"{where}: {arn!r} is in {arn.split(':')[3]}, not in the cluster's region "
                    f"{region}; the ALB can use only resources of its own region"
                )
        if alb_options.IP_ADDRESS_TYPE.of(alb) == "ipv4":
            yield from (
                f"{cidrs.setting}: {cidr!r} is an IPv6 block; it needs "
                f"{alb_options.IP_ADDRESS_TYPE.setting}: dualstack"
                for cidr in cidrs.of(alb)
                if ":" in cidr
            )

    def _front_door_problems(self) -> Iterator[str]:
        options = self.stack
        if options.front_door != "gateway":
            return
        problem = gateway_problem(options.controller_version)
        if problem:
            yield f"stack.frontDoor: {problem}"
        ingress_only = {
            "ingressGroup": options.ingress_group,
            "manifestsPath": options.manifests_path,
        }
        yield from (
            f"stack.{field} applies to the Ingress front door only; with stack.frontDoor: "
            f"gateway the ALB is built from kubeflow-alb's Gateway (remove stack.{field})"
            for field, value in ingress_only.items()
            if value is not None
        )

    def _partition_problems(self) -> Iterator[str]:
        role, region = self.route53.root_domain.role_arn, self.cluster.region
        if role is not None and role.split(":")[1] != region_partition(region):
            yield (
                f"route53.rootDomain.roleArn: {role!r} is in partition {role.split(':')[1]}, "
                f"not in the cluster's partition {region_partition(region)} ({region}); a role "
                "can only be assumed within its partition"
            )

    @property
    def name(self) -> str:
        """The stack name: the option, or derived from the subdomain."""
        return self.stack.name or naming.default_stack_name(self.route53.sub_domain.name)

    @property
    def root(self) -> str:
        return self.route53.root_domain.name

    @property
    def subdomain(self) -> str:
        return self.route53.sub_domain.name

    @property
    def region(self) -> str:
        return self.cluster.region

    @property
    def dashboard_host(self) -> str:
        return naming.dashboard_host(self.subdomain)

    @property
    def ingress_name(self) -> str:
        """The name of the stack's Ingress (in istio-system)."""
        return self.stack.ingress_name

    @property
    def ingress_key(self) -> str:
        """`istio-system/<ingress name>`: the Ingress's key in plans, drift and messages."""
        return f"{naming.INGRESS_NAMESPACE}/{self.stack.ingress_name}"

    @property
    def ingress_host(self) -> str | None:
        """The host our Ingress rules match in a shared ALB (`*.<subdomain>`); None alone."""
        return naming.wildcard(self.subdomain) if self.stack.ingress_group else None

    @property
    def tags(self) -> dict[str, str]:
        """AWS tags for everything this stack creates."""
        return naming.ownership_tags(self.name, self.stack.tags)


def parse_spec(data: Any) -> StackSpec:
    """Validate a mapping into a StackSpec, or raise SpecError naming every bad field."""
    if data is None:
        raise SpecError("The configuration is empty; see examples/config.yaml for the shape.")
    if not isinstance(data, dict):
        raise SpecError(
            f"The configuration must be a mapping (cluster:, route53:, ...), not {type(data).__name__}."
        )
    try:
        return StackSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(describe_errors(error)) from None


def load_spec(text: str | bytes, *, source: str = "config") -> StackSpec:
    """Parse a config file's YAML (text, or the file's bytes) into a StackSpec, or SpecError.

    Refused before validation: bytes that are not UTF-8, duplicate keys, deep nesting.
    """
    data = parse_yaml(text, source=source)
    try:
        return parse_spec(data)
    except SpecError as error:
        raise SpecError(f"{source}: {error.message}") from None
