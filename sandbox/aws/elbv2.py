"""ELBv2 load balancers as AWS shows them: real-looking DNS names, canonical zone ids, states.

moto names every load balancer ``<name>-1.<region>.elb.amazonaws.com``, gives all the same
made-up hosted zone id, turns ``active`` on the first describe, accepts listeners with a
missing or not yet issued certificate, and allows only 10 tags. Here the state stays
``provisioning`` until ``set_state`` (or ``alb_activation_delay``), creating a load
balancer again with the same name returns it (or fails if its settings differ, rather than
making a second one with the same name), a listener needs an
ISSUED certificate (``CertificateNotFound`` otherwise, as AWS says), and 50 tags are allowed.
DescribeTags takes at most 20 ARNs and fails for one that does not exist, as in AWS.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from moto.acm.models import acm_backends
from moto.elbv2.exceptions import DuplicateLoadBalancerName, ValidationError
from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer, elbv2_backends

from sandbox.aws.elbv2_listeners import around_listener_write
from sandbox.aws.errors import CertificateNotFound, TooManyTags
from sandbox.aws.hooks import Realism, arguments, hook

# Route53 hosted zone ids that AWS publishes for load balancer aliases, per region.
ALB_ZONE_IDS = {
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-east-2": "Z3AADJGX6KTTL2",
    "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5",
    "eu-west-1": "Z32O12XQLNTSW2",
    "eu-central-1": "Z215JYRZR1TBD5",
    "ap-northeast-1": "Z14GRHDCWA56QT",
    "ap-southeast-1": "Z1LMS91P8CMLE5",
    "ap-southeast-2": "Z1GM3OXH4ZPM65",
}
NLB_ZONE_IDS = {
    "us-east-1": "Z26RNL4JYFTOTI",
    "us-east-2": "ZLMOA37VPKANP",
    "us-west-1": "Z24FKFUX50B4VW",
    "us-west-2": "Z18D5FSROUN65G",
    "eu-west-1": "Z2IFOLAFXWLO4F",
    "eu-central-1": "Z3F0SRJ5LGBH90",
}
_MAX_TAGS = 50
_MAX_DESCRIBE_TAGS_ARNS = 20
_CREATED = "_kfalb_created"


def canonical_zone_id(region: str, lb_type: str) -> str:
    table = NLB_ZONE_IDS if lb_type == "network" else ALB_ZONE_IDS
    known = table.get(region)
    if known:
        return known
    digest = hashlib.sha1(f"{lb_type}/{region}".encode()).hexdigest().upper()
    return "Z" + digest[:13]


def dns_name(*, name: str, arn: str, region: str, scheme: str, lb_type: str) -> str:
    """``<name>-<id>.<region>.elb.amazonaws.com`` (ALB), ``internal-`` first when internal."""
    digest = hashlib.sha256(arn.encode()).hexdigest()
    if lb_type == "network":
        return f"{name}-{digest[:16]}.elb.{region}.amazonaws.com".lower()
    prefix = "internal-" if scheme == "internal" else ""
    return f"{prefix}{name}-{int(digest, 16) % 10**10:010d}.{region}.elb.amazonaws.com".lower()


def is_elb_alias(target: str, zone_id: str) -> bool:
    known = set(ALB_ZONE_IDS.values()) | set(NLB_ZONE_IDS.values())
    return (
        zone_id in known
        or target.rstrip(".").endswith("elb.amazonaws.com")
        or (".elb." in target and target.rstrip(".").endswith(".amazonaws.com"))
    )


def find_by_dns_name(account_id: str, target: str, default_region: str) -> FakeLoadBalancer | None:
    """The load balancer whose DNS name is ``target`` (``dualstack.`` prefix allowed)."""
    wanted = target.lower().rstrip(".").removeprefix("dualstack.")
    labels = wanted.split(".")
    regions = {default_region} | {label for label in labels if label in elbv2_backends[account_id]}
    for region in regions:
        for balancer in list(elbv2_backends[account_id][region].load_balancers.values()):
            if balancer.dns_name.lower() == wanted:
                return balancer
    return None


def load_balancers_using(account_id: str, region: str, certificate_arn: str) -> list[str]:
    """ARNs of the load balancers with a listener that serves ``certificate_arn``."""
    using = []
    for balancer in list(elbv2_backends[account_id][region].load_balancers.values()):
        for listener in list(balancer.listeners.values()):
            if (
                certificate_arn in (listener.certificates or [])
                or listener.certificate == certificate_arn
            ):
                using.append(balancer.arn)
                break
    return sorted(using)


def set_state(account_id: str, region: str, arn: str, state: str) -> None:
    """Set a load balancer's state (``provisioning``, ``active``, ``failed``...)."""
    elbv2_backends[account_id][region].load_balancers[arn].state = state


def check_certificate_issued(account_id: str, region: str, arn: str) -> None:
    """A listener can only serve an ACM certificate that exists and is ISSUED."""
    if ":acm:" not in arn:
        return
    acm = acm_backends[account_id][region]
    if arn in acm._certificates and acm.get_certificate(arn).status == "ISSUED":
        return
    raise CertificateNotFound(f"Certificate '{arn}' not found")


def check_tag_quota(existing: dict[str, str], new_keys: set[str]) -> None:
    if len(set(existing) | new_keys) > _MAX_TAGS:
        raise TooManyTags(
            "The quota for the number of tags that can be assigned to a load balancer has been reached"
        )


def same_load_balancer(balancer: FakeLoadBalancer, call: dict[str, Any]) -> bool:
    """CreateLoadBalancer is idempotent: the same name and settings give the same one back."""
    subnets = set(call.get("subnet_ids") or []) | {
        m["SubnetId"] for m in call.get("subnet_mappings") or []
    }
    return (
        balancer.scheme == (call.get("scheme") or "internet-facing")
        and balancer.type == (call.get("loadbalancer_type") or "application")
        and {subnet.id for subnet in balancer.subnets} == subnets
    )


def _around_create_load_balancer(
    realism: Realism, original: Any, backend: ELBv2Backend, *args: Any, **kwargs: Any
) -> Any:
    call = arguments(original, backend, args, kwargs)
    for existing in list(backend.load_balancers.values()):
        if existing.name == call["name"]:
            if same_load_balancer(existing, call):
                return existing
            raise DuplicateLoadBalancerName()
    balancer = original(backend, *args, **kwargs)
    balancer.dns_name = dns_name(
        name=balancer.name,
        arn=balancer.arn,
        region=backend.region_name,
        scheme=balancer.scheme,
        lb_type=balancer.type,
    )
    balancer.canonical_hosted_zone_id = canonical_zone_id(backend.region_name, balancer.type)
    setattr(balancer, _CREATED, time.monotonic())
    return balancer


def _around_activate(realism: Realism | None, original: Any, balancer: FakeLoadBalancer) -> None:
    created = balancer.__dict__.get(_CREATED)
    if created is None:
        original(balancer)
        return
    delay = realism.alb_activation_delay if realism is not None else None
    if delay is not None and time.monotonic() - created >= delay:
        original(balancer)


def _around_certificates(
    realism: Realism, original: Any, backend: ELBv2Backend, *args: Any, **kwargs: Any
) -> Any:
    call = arguments(original, backend, args, kwargs)
    arns = [c["CertificateArn"] for c in call.get("certificates") or []]
    if call.get("certificate"):
        arns.append(call["certificate"])
    for arn in arns:
        check_certificate_issued(backend.account_id, backend.region_name, arn)
    return around_listener_write(backend, original, call, args, kwargs)


def _around_add_tags(
    realism: Realism,
    original: Any,
    backend: ELBv2Backend,
    resource_arns: list[str],
    tags: list[dict[str, str]],
) -> None:
    keys = {tag["Key"] for tag in tags}
    for arn in resource_arns:
        backend._get_resource_by_arn(arn)
        check_tag_quota(backend.tagging_service.get_tag_dict_for_resource(arn), keys)
    for arn in resource_arns:
        backend.tagging_service.tag_resource(arn, tags)


def check_describe_tags_count(arns: list[str]) -> None:
    if len(arns) > _MAX_DESCRIBE_TAGS_ARNS:
        raise ValidationError(
            f"1 validation error detected: Value '{arns}' at 'resourceArns' failed to satisfy "
            f"constraint: Member must have length less than or equal to {_MAX_DESCRIBE_TAGS_ARNS}"
        )


def _around_describe_tags(
    realism: Realism, original: Any, backend: ELBv2Backend, resource_arns: list[str]
) -> dict[str, dict[str, str]]:
    check_describe_tags_count(resource_arns)
    for arn in resource_arns:
        backend._get_resource_by_arn(arn)  # the resource's own NotFound error
    return dict(original(backend, resource_arns))


def install() -> None:
    hook(ELBv2Backend, "describe_tags", _around_describe_tags)
    hook(ELBv2Backend, "create_load_balancer", _around_create_load_balancer)
    hook(FakeLoadBalancer, "activate", _around_activate, always=True)
    for name in ("create_listener", "modify_listener", "add_listener_certificates"):
        hook(ELBv2Backend, name, _around_certificates)
    hook(ELBv2Backend, "add_tags", _around_add_tags)
