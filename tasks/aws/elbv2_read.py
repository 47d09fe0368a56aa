"""Read one ALB whole, in a fixed handful of calls: listeners, certificates, rules, target groups,
attributes and tags (seven reads for our ALB, whatever the number of resources behind it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import naming
from core.resources import (
    ActionState,
    ListenerState,
    LoadBalancerState,
    RuleState,
    TargetGroupState,
)
from tasks.aws.errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client as ElbClient

_DESCRIBE_TAGS_MAX = 20  # ARNs per DescribeTags call
_TLS = frozenset({"HTTPS", "TLS"})


#: DescribeTags names one ARN of its batch that no longer exists (and fails the whole call).
_GONE = frozenset({"LoadBalancerNotFound", "TargetGroupNotFound"})


def tags_of(elb: ElbClient, arns: list[str]) -> dict[str, dict[str, str]]:
    """Tags of load balancers and target groups, 20 ARNs per call. One deleted since it was
    listed (the controller removes its ALBs when it likes) is left out, not an error."""
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), _DESCRIBE_TAGS_MAX):
        batch = arns[start : start + _DESCRIBE_TAGS_MAX]
        for item in _described(elb, batch):
            tags[item["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in item.get("Tags", [])}
    return tags


def _described(elb: ElbClient, batch: list[str]) -> list[Any]:
    try:
        return list(elb.describe_tags(ResourceArns=batch)["TagDescriptions"])
    except ClientError as error:
        if error_code(error) not in _GONE:
            raise
    if len(batch) == 1:
        return []  # gone
    return [item for arn in batch for item in _described(elb, [arn])]


def action_state(raw: Any) -> ActionState:
    """One action as DescribeListeners / DescribeRules report it."""
    forward = raw.get("ForwardConfig") or {}
    groups = [g["TargetGroupArn"] for g in forward.get("TargetGroups", [])]
    if raw.get("TargetGroupArn") and raw["TargetGroupArn"] not in groups:
        groups.insert(0, raw["TargetGroupArn"])
    redirect = raw.get("RedirectConfig") or {}
    fixed = raw.get("FixedResponseConfig") or {}
    return ActionState(
        type=str(raw.get("Type", "")),
        target_group_arns=tuple(groups),
        redirect_protocol=redirect.get("Protocol"),
        redirect_port=redirect.get("Port"),
        redirect_host=redirect.get("Host"),
        redirect_path=redirect.get("Path"),
        redirect_query=redirect.get("Query"),
        status_code=redirect.get("StatusCode") or fixed.get("StatusCode"),
        content_type=fixed.get("ContentType"),
    )


def _actions(raw: Iterable[Any]) -> tuple[ActionState, ...]:
    ordered = sorted(raw, key=lambda action: int(action.get("Order", 0)))
    return tuple(action_state(action) for action in ordered)


def _rule(raw: Any) -> RuleState:
    conditions: dict[str, tuple[str, ...]] = {}
    for condition in raw.get("Conditions", []):
        name = str(condition.get("Field", ""))
        # AWS reports the values both flat and in the field's own config.
        config: Any = next(
            (value for key, value in condition.items() if key.endswith("Config")), {}
        )
        values = condition.get("Values") or config.get("Values") or []
        conditions[name] = tuple(sorted({*conditions.get(name, ()), *values}))
    return RuleState(
        arn=raw["RuleArn"],
        priority=str(raw.get("Priority", "")),
        conditions=conditions,
        actions=_actions(raw.get("Actions", [])),
    )


def _listener(elb: ElbClient, raw: Any) -> ListenerState:
    arn, protocol = raw["ListenerArn"], str(raw.get("Protocol", ""))
    default = [c["CertificateArn"] for c in raw.get("Certificates", [])][:1]
    certificates = list(default)
    if protocol in _TLS:  # DescribeListeners shows the default certificate only
        listed = elb.get_paginator("describe_listener_certificates").paginate(ListenerArn=arn)
        certificates += sorted(
            c["CertificateArn"]
            for page in listed
            for c in page["Certificates"]
            if not c.get("IsDefault") and c["CertificateArn"] not in default
        )
    defaults = _actions(raw.get("DefaultActions", []))
    rules: tuple[RuleState, ...] | None = None
    # A listener that redirects everything has no use for rules: not read (one call saved).
    if not defaults or defaults[0].type != "redirect":
        pages = elb.get_paginator("describe_rules").paginate(ListenerArn=arn)
        rules = tuple(
            _rule(rule) for page in pages for rule in page["Rules"] if not rule.get("IsDefault")
        )
    return ListenerState(
        arn=arn,
        port=int(raw.get("Port", 0)),
        protocol=protocol,
        certificate_arns=tuple(certificates),
        ssl_policy=raw.get("SslPolicy") if protocol in _TLS else None,
        default_actions=defaults,
        rules=rules,
    )


def _target_groups(elb: ElbClient, arns: list[str]) -> list[Any]:
    if not arns:
        return []
    try:
        pages = elb.get_paginator("describe_target_groups").paginate(TargetGroupArns=arns)
        return [group for page in pages for group in page["TargetGroups"]]
    except ClientError as error:
        if error_code(error) != "TargetGroupNotFound":
            raise
        if len(arns) == 1:
            return []
    # One of them went away between the two reads: describe the rest one by one.
    return [group for arn in arns for group in _target_groups(elb, [arn])]


def _target_group(raw: Any, tags: dict[str, str]) -> TargetGroupState:
    return TargetGroupState(
        arn=raw["TargetGroupArn"],
        name=raw.get("TargetGroupName", ""),
        target_type=raw.get("TargetType", "instance"),
        protocol=raw.get("Protocol"),
        port=raw.get("Port"),
        protocol_version=raw.get("ProtocolVersion"),
        health_check_enabled=bool(raw.get("HealthCheckEnabled", True)),
        health_check_protocol=raw.get("HealthCheckProtocol"),
        health_check_port=raw.get("HealthCheckPort"),
        health_check_path=raw.get("HealthCheckPath"),
        health_check_interval_seconds=raw.get("HealthCheckIntervalSeconds"),
        health_check_timeout_seconds=raw.get("HealthCheckTimeoutSeconds"),
        healthy_threshold_count=raw.get("HealthyThresholdCount"),
        unhealthy_threshold_count=raw.get("UnhealthyThresholdCount"),
        success_codes=(raw.get("Matcher") or {}).get("HttpCode"),
        tags=tags,
    )


def full_state(elb: ElbClient, raw: Any, stack: str | None) -> LoadBalancerState:
    """The load balancer described by `raw` (a DescribeLoadBalancers item), read whole."""
    arn = raw["LoadBalancerArn"]
    listeners = [
        _listener(elb, item)
        for page in elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn)
        for item in page["Listeners"]
    ]
    forwarded = dict.fromkeys(
        group
        for listener in listeners
        for action in (
            *listener.default_actions,
            *(a for rule in listener.rules or () for a in rule.actions),
        )
        for group in action.target_group_arns
    )
    groups = _target_groups(elb, list(forwarded))
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    tags = tags_of(elb, [arn] + [group["TargetGroupArn"] for group in groups])
    own = tags.get(arn, {})
    return LoadBalancerState(
        arn=arn,
        name=raw["LoadBalancerName"],
        dns_name=raw["DNSName"],
        state=raw.get("State", {}).get("Code", "unknown"),
        scheme=raw.get("Scheme", ""),
        type=raw.get("Type", "application"),
        vpc_id=raw.get("VpcId"),
        canonical_hosted_zone_id=raw.get("CanonicalHostedZoneId", ""),
        security_group_ids=tuple(raw.get("SecurityGroups", [])),
        subnet_ids=tuple(sorted(z["SubnetId"] for z in raw.get("AvailabilityZones", []))),
        ip_address_type=raw.get("IpAddressType"),
        listeners=tuple(sorted(listeners, key=lambda listener: listener.port)),
        target_groups=tuple(
            _target_group(group, tags.get(group["TargetGroupArn"], {})) for group in groups
        ),
        attributes={a["Key"]: a.get("Value", "") for a in attributes},
        tags=own,
        owned=stack is not None and naming.is_owned(own, stack),
    )
