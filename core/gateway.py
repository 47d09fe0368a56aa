"""The Gateway API front door (pure): kubeflow-alb's Gateway objects, configured from the spec.

`stack.frontDoor: gateway` has the AWS Load Balancer Controller (v3.x, its ALB Gateway
controller) build the ALB from a GatewayClass of controller `gateway.k8s.aws/alb`, a Gateway in
istio-system with an HTTP :80 and an HTTPS :443 listener, an HTTPRoute sending `*.<subdomain>`
to istio-ingressgateway:80, an HTTPRoute redirecting HTTP to HTTPS, and the controller's own
LoadBalancerConfiguration (scheme, subnets, certificates, TLS policy, attributes and options,
tags) and TargetGroupConfiguration (ip targets, the 15021 `/healthz/ready` health check).
The shapes are the kustomize base deployments/gateway/; `configure_gateway` sets the values
that differ per stack on the rendered objects, as `core.manifests.configure_ingress` does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core import naming
from core.alb_options import ATTRIBUTES, option_annotations, parse_pairs
from core.errors import SpecError
from core.manifests import (
    ALB_PREFIX,
    DEFAULT_SSL_POLICY,
    SCHEMES,
    FrontDoorParams,
    Manifest,
    key,
    unresolved,
    with_ownership,
)
from core.spec import StackSpec

GATEWAY_API = "gateway.networking.k8s.io/v1"
#: The controller's customisation CRDs: `v1` is their storage version from v3.5.0.
LBC_API = "gateway.k8s.aws/v1"
HTTP_LISTENER = "http"
HTTPS_LISTENER = "https"
REDIRECT_SUFFIX = "-http-redirect"
#: Apply order: the class and the configurations before the Gateway that names them, routes last.
_ORDER = {
    "GatewayClass": 0,
    "TargetGroupConfiguration": 1,
    "LoadBalancerConfiguration": 2,
    "Gateway": 3,
    "HTTPRoute": 4,
}


@dataclass(frozen=True)
class AlbOptions:
    """The ALB options a front door carries: load balancer attributes (key -> value), the HTTPS
    listener's TLS policy, a WAFv2 web ACL, client CIDRs (empty: everyone), the IP address type.

    The values come from the ALB option table (`core/alb_options.py`); `alb_options` builds them
    from the spec until it lands.
    """

    attributes: Mapping[str, str] = field(default_factory=dict)
    ssl_policy: str = DEFAULT_SSL_POLICY
    waf_acl_arn: str | None = None
    inbound_cidrs: tuple[str, ...] = ()
    ip_address_type: str = "ipv4"


def alb_options(spec: StackSpec) -> AlbOptions:
    """The spec's ALB options from the option table (core/alb_options.py), as the Ingress front
    door's annotations say them: the attributes, the TLS policy, WAF, client CIDRs, IP type."""
    notes = {
        name.removeprefix(ALB_PREFIX): value
        for name, value in option_annotations(spec.kubeflow.alb, {}, where="the spec").items()
    }
    attributes = parse_pairs(notes.get(ATTRIBUTES, ""), ATTRIBUTES, "the spec")
    cidrs = tuple(filter(None, notes.get("inbound-cidrs", "").split(",")))
    return AlbOptions(
        attributes=attributes,
        ssl_policy=notes.get("ssl-policy") or DEFAULT_SSL_POLICY,
        waf_acl_arn=notes.get("wafv2-acl-arn"),
        inbound_cidrs=cidrs,
        ip_address_type=notes.get("ip-address-type", "ipv4"),
    )


@dataclass(frozen=True)
class GatewayNames:
    """The names of one stack's Gateway objects (all in istio-system but the GatewayClass)."""

    gateway: str = naming.INGRESS_NAME
    gateway_class: str = naming.GATEWAY_CLASS
    namespace: str = naming.INGRESS_NAMESPACE

    @property
    def route(self) -> str:
        return self.gateway

    @property
    def redirect_route(self) -> str:
        return self.gateway + REDIRECT_SUFFIX

    @property
    def load_balancer_configuration(self) -> str:
        return self.gateway

    @property
    def target_group_configuration(self) -> str:
        return self.gateway

    @property
    def gateway_key(self) -> str:
        """`istio-system/<gateway>`: the Gateway's key in plans, drift and messages."""
        return f"{self.namespace}/{self.gateway}"


@dataclass(frozen=True)
class GatewayParams(FrontDoorParams):
    """What differs per stack in the Gateway objects."""

    hostnames: tuple[str, ...]
    options: AlbOptions = field(default_factory=AlbOptions)
    #: Subnet ids for the ALB; empty: the controller discovers them by their role tags.
    subnets: tuple[str, ...] = ()
    names: GatewayNames = field(default_factory=GatewayNames)


def gateway_names(spec: StackSpec) -> GatewayNames:
    """The stack's Gateway objects are named after stack.ingressName (one per stack)."""
    return GatewayNames(gateway=spec.stack.ingress_name)


def gateway_params(
    spec: StackSpec,
    certificate_arns: Iterable[str],
    *,
    options: AlbOptions | None = None,
    subnets: Iterable[str] = (),
) -> GatewayParams:
    """The Gateway objects' parameters for this spec and its certificates (subdomain's first)."""
    return GatewayParams(
        stack=spec.name,
        certificate_arns=tuple(certificate_arns),
        scheme=spec.kubeflow.alb.scheme,
        tags=spec.tags,
        hostnames=(naming.wildcard(spec.subdomain),),
        options=options or alb_options(spec),
        subnets=tuple(subnets),
        names=gateway_names(spec),
    )


def configure_gateway(objects: Iterable[Manifest], params: GatewayParams) -> list[Manifest]:
    """Set names, hostnames, certificates, scheme, TLS policy, ALB options, tags and ownership
    labels on the rendered base (deployments/gateway/); the objects in apply order."""
    if not params.certificate_arns:
        raise SpecError("The Gateway's HTTPS listener needs at least one certificate ARN.")
    if params.scheme not in SCHEMES:
        raise SpecError(f"Gateway: scheme {params.scheme!r} is not one of {SCHEMES}.")
    found = _base_objects(objects)
    names = params.names
    configured = [
        _named(found["GatewayClass"], params, names.gateway_class),
        _target_group_configuration(found["TargetGroupConfiguration"], params),
        _load_balancer_configuration(found["LoadBalancerConfiguration"], params),
        _gateway(found["Gateway"], params),
        _route(found[HTTPS_LISTENER], params, names.route),
        _route(found[HTTP_LISTENER], params, names.redirect_route),
    ]
    left = unresolved(configured)
    if left:
        raise SpecError("Gateway manifest values were not set: " + "; ".join(left))
    return sorted(configured, key=lambda obj: _ORDER.get(str(obj.get("kind")), 9))


def _base_objects(objects: Iterable[Manifest]) -> dict[str, Manifest]:
    """The base's objects by kind (routes by the listener they attach to)."""
    found: dict[str, Manifest] = {}
    for obj in objects:
        kind = str(obj.get("kind"))
        if kind == "HTTPRoute":
            refs = (obj.get("spec") or {}).get("parentRefs") or [{}]
            kind = str(refs[0].get("sectionName"))
        if kind in found:
            raise SpecError(f"The Gateway base has two objects for {kind}: {key(obj)}.")
        found[kind] = obj
    wanted = [*_ORDER, HTTP_LISTENER, HTTPS_LISTENER]
    missing = [kind for kind in wanted if kind not in found and kind != "HTTPRoute"]
    if missing:
        raise SpecError(f"The Gateway base lacks: {', '.join(missing)}.")
    return found


def _named(obj: Manifest, params: GatewayParams, name: str) -> Manifest:
    result = with_ownership(obj, params.stack)
    meta = result["metadata"]
    meta["name"] = name
    if result.get("kind") != "GatewayClass":
        meta["namespace"] = params.names.namespace
    return result


def _gateway(obj: Manifest, params: GatewayParams) -> Manifest:
    result = _named(obj, params, params.names.gateway)
    spec = result.setdefault("spec", {})
    spec["gatewayClassName"] = params.names.gateway_class
    reference = spec.setdefault("infrastructure", {}).setdefault("parametersRef", {})
    reference.update(
        {
            "group": LBC_API.split("/")[0],
            "kind": "LoadBalancerConfiguration",
            "name": params.names.load_balancer_configuration,
        }
    )
    return result


def _route(obj: Manifest, params: GatewayParams, name: str) -> Manifest:
    result = _named(obj, params, name)
    spec = result.setdefault("spec", {})
    for reference in spec.get("parentRefs") or []:
        reference["name"] = params.names.gateway
    spec["hostnames"] = list(params.hostnames)
    return result


def _load_balancer_configuration(obj: Manifest, params: GatewayParams) -> Manifest:
    result = _named(obj, params, params.names.load_balancer_configuration)
    spec: dict[str, Any] = result.setdefault("spec", {})
    options = params.options
    spec["scheme"] = params.scheme
    https = next(
        (
            c
            for c in spec.get("listenerConfigurations") or []
            if c.get("protocolPort") == "HTTPS:443"
        ),
        None,
    )
    if https is None:
        raise SpecError(f"{key(obj)} has no listenerConfigurations entry for HTTPS:443.")
    https["defaultCertificate"] = params.certificate_arns[0]
    https.pop("certificates", None)
    if params.certificate_arns[1:]:
        https["certificates"] = list(params.certificate_arns[1:])
    https["sslPolicy"] = options.ssl_policy
    spec["defaultTargetGroupConfiguration"] = {"name": params.names.target_group_configuration}
    spec["tags"] = dict(params.tags)
    attributes = sorted(options.attributes.items())
    spec["loadBalancerAttributes"] = [{"key": k, "value": v} for k, v in attributes]
    _set_or_drop(spec, "loadBalancerSubnets", [{"identifier": s} for s in params.subnets])
    _set_or_drop(spec, "wafV2", {"webACL": options.waf_acl_arn} if options.waf_acl_arn else None)
    _set_or_drop(spec, "sourceRanges", list(options.inbound_cidrs))
    dualstack = options.ip_address_type == "dualstack"
    _set_or_drop(spec, "ipAddressType", "dualstack" if dualstack else None)
    return result


def _target_group_configuration(obj: Manifest, params: GatewayParams) -> Manifest:
    result = _named(obj, params, params.names.target_group_configuration)
    defaults = result.setdefault("spec", {}).setdefault("defaultConfiguration", {})
    defaults["tags"] = dict(params.tags)
    return result


def _set_or_drop(spec: dict[str, Any], name: str, value: Any) -> None:
    """Declare the option only when it is set, as the Ingress annotates only set options."""
    if value:
        spec[name] = copy.deepcopy(value)
    else:
        spec.pop(name, None)
