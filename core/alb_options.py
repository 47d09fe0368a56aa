"""The ALB options, one entry each (pure): the spec field under `kubeflow.alb`, the Ingress
annotation or `load-balancer-attributes` keys it becomes, its default, the ALB fields it declares
for plan and drift with the normalisation of what is observed, and what cleanup sets first.

The spec's `Alb` model (core/spec.py), the Ingress rendering (core/manifests.py), the desired
and observed ALB (core/alb.py, core/alb_observed.py), drift's extra reads
(tasks/aws/elbv2_details.py) and cleanup's lifting of deletion protection (tasks/k8s/ingress.py,
tasks/aws/elbv2_protection.py) all read OPTIONS: a new option is one entry here, its test and
its README line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, Field, field_validator
from pydantic.alias_generators import to_camel

from core import alb_option_values as values
from core.alb_facts import NONE
from core.alb_option_values import AccessLogs
from core.errors import SpecError
from core.resources import LoadBalancerState

ALB_PREFIX = "alb.ingress.kubernetes.io/"
#: The Ingress annotation of the ALB's attributes: `key=value,key=value`.
ATTRIBUTES = "load-balancer-attributes"
#: TLS 1.2 and 1.3 with hybrid post-quantum key exchange: AWS's recommended ALB policy (2025-09).
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Option(Generic[T]):
    """An option's spec field: name (snake_case; camelCase in YAML), type, default, check."""

    name: str
    type: Any
    default: T
    description: str
    before: Callable[[Any], Any] | None = None  # applied to the raw input first
    check: Callable[[Any], Any] | None = None  # raises ValueError with what is wrong

    @property
    def setting(self) -> str:
        """Where it is set: `kubeflow.alb.<camelCase>`."""
        return f"kubeflow.alb.{to_camel(self.name)}"

    def of(self, alb: BaseModel) -> T:
        """Its value in the spec's `kubeflow.alb`."""
        return cast(T, getattr(alb, self.name))


@dataclass(frozen=True, kw_only=True)
class AnnotationOption(Option[T]):
    """An option that is an Ingress annotation of its own, and an ALB field of its own."""

    annotation: str  # after alb.ingress.kubernetes.io/
    render: Callable[[T], str | None]  # None: not annotated (the Ingress's own is kept)
    fallback: str | None = None  # annotated when neither the option nor the Ingress sets it
    alb_field: str | None = None  # None: another part of the ALB's facts shows it (core/alb.py)
    desired: Callable[[str], str] = values.lowered  # the annotation's text as the field's value
    observed: Callable[[LoadBalancerState], str | None] = lambda _: None  # None: not read
    reads: str | None = None  # the service an observation reads it from, beyond ELBv2


@dataclass(frozen=True, kw_only=True)
class AttributeOption(Option[T]):
    """An option that is ALB attributes, merged into the Ingress's `load-balancer-attributes`;
    each is the ALB field `attribute <key>`."""

    keys: tuple[str, ...]
    text: Callable[[T], str] | None = None  # one key: its value
    texts: Callable[[T], dict[str, str]] | None = None  # several keys ({}: not set)
    normalise: Callable[[str], str] = values.lowered
    cleanup: str | None = None  # its one key's value before the ALB is deleted

    def pairs(self, value: T) -> dict[str, str]:
        if self.texts is not None:
            return self.texts(value)
        assert self.text is not None, self.name
        return {self.keys[0]: self.text(value)}


_ACCESS_LOGS = ("access_logs.s3.enabled", "access_logs.s3.bucket", "access_logs.s3.prefix")


def _access_logs(logs: AccessLogs | None) -> dict[str, str]:
    if logs is None:
        return {}  # the attributes are left as they are
    return dict(zip(_ACCESS_LOGS, ("true", logs.bucket, logs.prefix), strict=True))


SSL_POLICY: AnnotationOption[str | None] = AnnotationOption(
    name="ssl_policy",
    type=str | None,
    default=None,
    description="The HTTPS listener's security policy (alb.ingress.kubernetes.io/ssl-policy). "
    f"Empty: the Ingress's own annotation, else {DEFAULT_SSL_POLICY}.",
    before=values.empty_is_none,
    check=values.ssl_policy,
    annotation="ssl-policy",
    render=lambda policy: policy,
    fallback=DEFAULT_SSL_POLICY,  # its ALB field: each HTTPS listener's ssl-policy (core/alb.py)
)
WAF_ACL_ARN: AnnotationOption[str | None] = AnnotationOption(
    name="waf_acl_arn",
    type=str | None,
    default=None,
    description="A regional AWS WAF web ACL (wafv2) ARN to associate with the ALB "
    "(alb.ingress.kubernetes.io/wafv2-acl-arn).",
    before=values.empty_is_none,
    check=values.waf_acl_arn,
    annotation="wafv2-acl-arn",
    render=lambda arn: arn,
    alb_field="waf-acl",
    desired=lambda text: text.strip() or NONE,
    observed=lambda state: state.waf_acl_arn or NONE,
    reads="wafv2",
)
ACCESS_LOGS: AttributeOption[AccessLogs | None] = AttributeOption(
    name="access_logs",
    type=AccessLogs | None,
    default=None,
    description="Write the ALB's access logs to this S3 bucket and prefix.",
    keys=_ACCESS_LOGS,
    texts=_access_logs,
    normalise=values.text_or_boolean,  # the prefix is case-sensitive
)
INBOUND_CIDRS: AnnotationOption[tuple[str, ...]] = AnnotationOption(
    name="inbound_cidrs",
    type=tuple[str, ...],
    default=(),
    description="Client CIDRs allowed to reach the ALB (alb.ingress.kubernetes.io/"
    "inbound-cidrs). Empty: 0.0.0.0/0 (and ::/0 for dualstack).",
    before=values.none_is_empty,
    check=values.cidrs,
    annotation="inbound-cidrs",
    render=lambda cidrs: ",".join(cidrs) or None,
    alb_field="inbound-cidrs",
    desired=values.cidrs_field,
    observed=lambda state: (
        None if state.inbound_cidrs is None else values.joined(state.inbound_cidrs)
    ),
    reads="ec2",
)
IP_ADDRESS_TYPE: AnnotationOption[str] = AnnotationOption(
    name="ip_address_type",
    type=Literal["ipv4", "dualstack"],
    default="ipv4",
    description="ipv4, or dualstack (IPv4 and IPv6; adds an AAAA alias next to the A alias).",
    annotation="ip-address-type",
    render=lambda kind: "dualstack" if kind == "dualstack" else None,
    alb_field="ip-address-type",
    observed=lambda state: (state.ip_address_type or "ipv4").lower(),
)
DROP_INVALID_HEADER_FIELDS: AttributeOption[bool] = AttributeOption(
    name="drop_invalid_header_fields",
    type=bool,
    default=True,
    description="Drop HTTP headers whose names are not valid (AWS Security Hub ELB.4).",
    keys=("routing.http.drop_invalid_header_fields.enabled",),
    text=values.boolean,
)
DELETION_PROTECTION: AttributeOption[bool] = AttributeOption(
    name="deletion_protection",
    type=bool,
    default=True,
    description="Keep the ALB from being deleted until cleanup lifts the protection (AWS "
    "Security Hub ELB.6): a stray `kubectl delete ingress` leaves the ALB in place.",
    keys=("deletion_protection.enabled",),
    text=values.boolean,
    cleanup="false",
)
DESYNC_MITIGATION_MODE: AttributeOption[str] = AttributeOption(
    name="desync_mitigation_mode",
    type=Literal["defensive", "strictest", "monitor"],
    default="defensive",
    description="How the ALB treats requests that risk HTTP desync (request smuggling): "
    "defensive or strictest (AWS Security Hub ELB.12), or monitor (forwards them all).",
    keys=("routing.http.desync_mitigation_mode",),
    text=str,
)
IDLE_TIMEOUT_SECONDS: AttributeOption[int] = AttributeOption(
    name="idle_timeout_seconds",
    type=Annotated[int, Field(ge=1, le=4000)],
    default=3600,
    description="Seconds a connection may stay idle (1-4000); Kubeflow's notebook terminals "
    "and websockets outlive the ALB's own default of 60.",
    keys=("idle_timeout.timeout_seconds",),
    text=str,
    normalise=values.integer,
)

#: Every option, in the order they are rendered and shown.
OPTIONS: tuple[Option[Any], ...] = (
    SSL_POLICY,
    WAF_ACL_ARN,
    ACCESS_LOGS,
    INBOUND_CIDRS,
    IP_ADDRESS_TYPE,
    DROP_INVALID_HEADER_FIELDS,
    DELETION_PROTECTION,
    DESYNC_MITIGATION_MODE,
    IDLE_TIMEOUT_SECONDS,
)
_ANNOTATED = tuple(o for o in OPTIONS if isinstance(o, AnnotationOption))
_ATTRIBUTES = tuple(o for o in OPTIONS if isinstance(o, AttributeOption))
_BY_KEY = {key: option for option in _ATTRIBUTES for key in option.keys}


def spec_fields() -> dict[str, Any]:
    """The options as the fields of the spec's `kubeflow.alb` model (pydantic definitions)."""
    return {o.name: (o.type, Field(default=o.default, description=o.description)) for o in OPTIONS}


def spec_validators() -> dict[str, Any]:
    """The options' checks as field validators of that model."""
    found: dict[str, Any] = {}
    for option in OPTIONS:
        if option.before is not None:
            check = field_validator(option.name, mode="before")
            found[f"_{option.name}_before"] = check(_validator(option.before))
        if option.check is not None:
            found[f"_{option.name}"] = field_validator(option.name)(_validator(option.check))
    return found


def _validator(check: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda cls, value: check(value)


def option_annotations(alb: BaseModel, own: Mapping[str, str], *, where: str) -> dict[str, str]:
    """The annotations the options set on an Ingress whose own annotations are `own`: each
    annotation option's (or its fallback where the Ingress has none), and the attributes merged
    into the Ingress's own `load-balancer-attributes` (an option's keys win)."""
    result: dict[str, str] = {}
    for option in _ANNOTATED:
        name, text = ALB_PREFIX + option.annotation, option.render(option.of(alb))
        if text is None and name not in own:
            text = option.fallback
        if text is not None:
            result[name] = text
    attributes = parse_pairs(own.get(ALB_PREFIX + ATTRIBUTES, ""), ATTRIBUTES, where)
    for attribute in _ATTRIBUTES:
        attributes.update(attribute.pairs(attribute.of(alb)))
    if attributes:
        result[ALB_PREFIX + ATTRIBUTES] = ",".join(f"{k}={v}" for k, v in attributes.items())
    return result


def desired_fields(notes: Mapping[str, str], *, where: str) -> dict[str, str]:
    """The ALB fields an Ingress's annotations (names without the prefix) declare through the
    options: each annotated option's field, and `attribute <key>` for every attribute."""
    fields = {
        option.alb_field: option.desired(notes[option.annotation])
        for option in _ANNOTATED
        if option.alb_field is not None and option.annotation in notes
    }
    for key, value in parse_pairs(notes.get(ATTRIBUTES, ""), ATTRIBUTES, where).items():
        fields[f"attribute {key}"] = _normalised(key, value)
    return fields


def observed_fields(state: LoadBalancerState) -> dict[str, str]:
    """The same fields of an observed ALB, normalised alike (the planner compares only the
    desired ones)."""
    fields = {
        option.alb_field: found
        for option in _ANNOTATED
        if option.alb_field is not None and (found := option.observed(state)) is not None
    }
    for key, value in state.attributes.items():
        fields[f"attribute {key}"] = _normalised(key, value)
    return fields


def reads(fields: Mapping[str, str]) -> frozenset[str]:
    """The services beyond ELBv2 that observing these declared ALB fields needs."""
    return frozenset(o.reads for o in _ANNOTATED if o.reads and o.alb_field in fields)


def _normalised(key: str, value: str) -> str:
    option = _BY_KEY.get(key)
    return option.normalise(value) if option is not None else values.lowered(value)


def cleanup_attributes() -> dict[str, str]:
    """What cleanup sets on the ALB before it is deleted (deletion protection lifted)."""
    return {o.keys[0]: o.cleanup for o in _ATTRIBUTES if o.cleanup is not None}


def lifted(attributes: Mapping[str, str]) -> bool:
    """Whether observed ALB attributes already have the cleanup values."""
    return all(
        _normalised(key, attributes.get(key, value)) == _normalised(key, value)
        for key, value in cleanup_attributes().items()
    )


def lifting(attributes: Mapping[str, str]) -> dict[str, str]:
    """A front door's attributes with the cleanup values ({} when they set none of those keys
    otherwise: the controller then deletes the ALB as it is)."""
    wanted = {k: v for k, v in cleanup_attributes().items() if k in attributes}
    if all(_normalised(k, attributes[k]) == _normalised(k, v) for k, v in wanted.items()):
        return {}
    return {**attributes, **wanted}


def lifting_annotation(annotations: Mapping[str, str]) -> dict[str, str]:
    """The annotation that gives an Ingress the cleanup values ({} when nothing is to lift)."""
    name = ALB_PREFIX + ATTRIBUTES
    lifted = lifting(parse_pairs(annotations.get(name, ""), ATTRIBUTES, "the Ingress"))
    return {name: ",".join(f"{k}={v}" for k, v in lifted.items())} if lifted else {}


def describe_cleanup() -> str:
    """`deletion_protection.enabled=false` (the cleanup values), for log lines."""
    return ",".join(f"{key}={value}" for key, value in cleanup_attributes().items())


def parse_pairs(raw: str, annotation: str, where: str) -> dict[str, str]:
    """`k1=v1,k2=v2` in order, as the controller parses its map annotations."""
    result: dict[str, str] = {}
    for entry in (item.strip() for item in raw.split(",")):
        if not entry:
            continue
        if "=" not in entry:
            raise SpecError(
                f"{where}: annotation {ALB_PREFIX}{annotation} has {entry!r}, not key=value; "
                "the controller would refuse the Ingress."
            )
        key, value = entry.split("=", 1)
        result[key.strip()] = value.strip()
    return result
