"""The stack spec: the original guide's config.yaml shape plus our options, validated and frozen."""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from core import naming
from core.dnsnames import is_under, name_problem, normalise
from core.errors import SpecError
from core.regions import REGIONS

_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_RESERVED_TAG_PREFIXES = ("aws:", "kubernetes.io/", "elbv2.k8s.aws/", "ingress.k8s.aws/")


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, alias_generator=to_camel
    )


def _dns_name(value: str, *, allow_wildcard: bool = False) -> str:
    name = normalise(value)
    problem = name_problem(name, allow_wildcard=allow_wildcard)
    if problem:
        raise ValueError(f"{value!r} {problem}")
    return name


class Cluster(_Model):
    """The EKS cluster that runs Kubeflow."""

    name: str = Field(description="EKS cluster name.")
    region: str = Field(description="AWS region of the cluster, e.g. us-west-2.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _CLUSTER_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an EKS cluster name (1-100 letters, digits, '-' or '_', "
                "starting with a letter or digit)"
            )
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in REGIONS:
            raise ValueError(f"{value!r} is not an AWS region (for example us-west-2)")
        return value


class RootDomain(_Model):
    """The domain you own; its zone gets the delegation of the subdomain."""

    name: str = Field(description="Root domain, e.g. example.com.")
    hosted_zone_id: str | None = Field(
        default=None,
        description="Route53 public hosted zone id of the root domain. Empty: looked up by name; "
        "if the root is not in Route53 the flow prints the NS records to add at your DNS provider.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value)

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        zone_id = value.removeprefix("/hostedzone/")
        if not _ZONE_ID.match(zone_id):
            raise ValueError(
                f"{value!r} is not a Route53 hosted zone id (like Z0123456789ABCDEFGHIJ)"
            )
        return zone_id


class SubDomain(_Model):
    """The subdomain Kubeflow is served under; it gets its own hosted zone."""

    name: str = Field(description="Subdomain, e.g. platform.example.com.")
    subject_alternative_names: tuple[str, ...] = Field(
        default=(),
        description="Extra names for the subdomain certificate, each within the subdomain.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value)

    @field_validator("subject_alternative_names", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return () if value is None else value

    @field_validator("subject_alternative_names")
    @classmethod
    def _sans(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(_dns_name(item, allow_wildcard=True) for item in value))
        if len(names) > 9:
            raise ValueError(f"has {len(names)} names; ACM allows 10 names per certificate in all")
        return names


class Route53(_Model):
    """Root domain and subdomain."""

    root_domain: RootDomain = Field(description="The domain you own.")
    sub_domain: SubDomain = Field(description="The subdomain for Kubeflow.")


class Alb(_Model):
    """Load balancer options."""

    scheme: Literal["internet-facing", "internal"] = Field(
        default="internet-facing", description="internet-facing or internal."
    )


class Kubeflow(_Model):
    """Kubeflow options."""

    alb: Alb = Field(default_factory=Alb, description="Load balancer options.")


class StackOptions(_Model):
    """Options of kubeflow-alb beyond the original guide's config."""

    name: str | None = Field(
        default=None,
        description="Stack name, the ownership mark on every resource. Default: from the subdomain.",
    )
    root_certificate: bool = Field(
        default=True, description="Also request *.<root domain>, as the original guide does."
    )
    record_type: Literal["alias", "cname"] = Field(
        default="alias", description="*.<subdomain> record: alias A to the ALB, or CNAME."
    )
    controller: Literal["auto", "install", "skip"] = Field(
        default="auto",
        description="AWS Load Balancer Controller: auto (use an existing one, else install), "
        "install, or skip (you manage it).",
    )
    manifests_path: str | None = Field(
        default=None,
        description="A kustomize directory with the Ingress to use instead of the bundled one "
        "(e.g. kubeflow-manifests deployments/add-ons/load-balancer).",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags for AWS resources.")
    ingress_name: str = Field(
        default=naming.INGRESS_NAME,
        description="Name of the stack's Ingress in istio-system (default istio-ingress, the "
        "guide's); give each stack on one cluster its own.",
    )
    ingress_group: str | None = Field(
        default=None,
        description="ALB IngressGroup (alb.ingress.kubernetes.io/group.name): stacks with the same "
        "group on one cluster share one ALB. Empty: the Ingress has an ALB of its own.",
    )

    @field_validator("ingress_name")
    @classmethod
    def _ingress_name(cls, value: str) -> str:
        if not naming.is_valid_object_name(value):
            raise ValueError(
                f"{value!r} is not a Kubernetes object name (1-63 lower-case letters, digits "
                "and '-', starting and ending with a letter or digit)"
            )
        return value

    @field_validator("ingress_group")
    @classmethod
    def _ingress_group(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not naming.is_valid_group_name(value):
            raise ValueError(
                f"{value!r} is not an IngressGroup name (1-63 lower-case letters, digits, '-' "
                "and '.', starting and ending with a letter or digit)"
            )
        return value

    @field_validator("name")
    @classmethod
    def _stack_name(cls, value: str | None) -> str | None:
        if value is not None and not naming.is_valid_stack_name(value):
            raise ValueError(
                f"{value!r} is not a stack name (1-40 lower-case letters, digits and '-', "
                "starting and ending with a letter or digit)"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 40:
            raise ValueError(f"has {len(value)} tags; at most 40 (AWS allows 50 with ours)")
        for key, item in value.items():
            if not 1 <= len(key) <= 128 or len(item) > 256:
                raise ValueError(
                    f"tag {key[:40]!r}: keys have 1-128 characters, values at most 256"
                )
            if key in (naming.STACK_TAG, naming.MANAGED_BY_TAG) or key.startswith(
                _RESERVED_TAG_PREFIXES
            ):
                raise ValueError(f"tag {key!r} is reserved (by AWS, Kubernetes or kubeflow-alb)")
        return value


class StackSpec(_Model):
    """What to expose: the cluster, the domains, the ALB scheme and kubeflow-alb options."""

    cluster: Cluster = Field(description="The EKS cluster.")
    route53: Route53 = Field(description="Domains.")
    kubeflow: Kubeflow = Field(default_factory=Kubeflow, description="Kubeflow options.")
    stack: StackOptions = Field(default_factory=StackOptions, description="kubeflow-alb options.")

    @model_validator(mode="after")
    def _domains(self) -> StackSpec:
        root, sub = self.route53.root_domain.name, self.route53.sub_domain.name
        if sub == root:
            raise ValueError(
                f"route53.subDomain.name {sub!r} equals the root domain; use a subdomain "
                f"such as platform.{root}"
            )
        if not is_under(sub, root):
            raise ValueError(
                f"route53.subDomain.name {sub!r} is not under the root domain {root!r}"
            )
        for san in self.route53.sub_domain.subject_alternative_names:
            if san != sub and not is_under(san, sub):
                raise ValueError(
                    f"route53.subDomain.subjectAlternativeNames: {san!r} is outside the subdomain "
                    f"{sub!r}; its validation record could not be created in the subdomain zone"
                )
        return self

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
        raise SpecError(_describe(error)) from None


def load_spec(text: str, *, source: str = "config") -> StackSpec:
    """Parse YAML text into a StackSpec, or raise SpecError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{source} is not valid YAML{where}.") from None
    try:
        return parse_spec(data)
    except SpecError as error:
        raise SpecError(f"{source}: {error.message}") from None


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if not where:
            lines.append(message)
            continue
        if item["type"] == "extra_forbidden":
            message = "is not a known setting (check the spelling)"
        elif item["type"] == "missing":
            message = "is required"
        lines.append(f"{where}: {message}")
    return "Invalid configuration:\n  " + "\n  ".join(lines)
