"""An observed ALB as facts, normalised the way the desired ones are (pure)."""

from __future__ import annotations

from core import naming
from core.alb_facts import (
    GATEWAY_RESOURCE_TAG,
    NONE,
    RESOURCE_TAG,
    AlbFacts,
    ListenerFacts,
    TargetGroupFacts,
    rule_text,
)
from core.alb_options import observed_fields
from core.resources import ActionState, LoadBalancerState, RuleState, TargetGroupState

#: RedirectConfig values that mean "keep the request's own" (AWS reports them when not set).
_KEEP = {"host": "#{host}", "path": "/#{path}", "query": "#{query}"}


def observed_alb(state: LoadBalancerState) -> AlbFacts:
    """The facts of an observed load balancer (its target group: the one the rules route to)."""
    groups = {group.arn: group for group in state.target_groups}
    listeners = tuple(
        ListenerFacts(
            protocol=listener.protocol.upper(),
            port=listener.port,
            certificate=listener.certificate_arns[0] if listener.certificate_arns else None,
            sni_certificates=tuple(listener.certificate_arns[1:]),
            ssl_policy=listener.ssl_policy,
            action=actions_text(listener.default_actions, groups),
            rules=None
            if listener.rules is None
            else tuple(
                rule_text(rule.priority, rule.conditions, actions_text(rule.actions, groups))
                for rule in sorted(listener.rules, key=_priority)
            ),
        )
        for listener in sorted(state.listeners, key=lambda item: item.port)
    )
    chosen = sorted(groups.values(), key=_preference)
    return AlbFacts(
        scheme=state.scheme.lower(),
        listeners=listeners,
        target_group=target_group_facts(chosen[0]) if chosen else None,
        tags=dict(state.tags),
        state=state.state,
        subnets=tuple(state.subnet_ids),
        options=observed_fields(state),
    )


def target_group_facts(group: TargetGroupState) -> TargetGroupFacts:
    """A target group's facts; the health check with every setting AWS reports."""
    health = {
        "protocol": (group.health_check_protocol or "").upper(),
        "port": group.health_check_port or "",
        "path": group.health_check_path or "",
        "success-codes": (group.success_codes or "").replace(" ", ""),
        "enabled": "true" if group.health_check_enabled else "false",
        "interval-seconds": _text(group.health_check_interval_seconds),
        "timeout-seconds": _text(group.health_check_timeout_seconds),
        "healthy-threshold-count": _text(group.healthy_threshold_count),
        "unhealthy-threshold-count": _text(group.unhealthy_threshold_count),
    }
    return TargetGroupFacts(
        resource_id=group_label(group),
        target_type=group.target_type.lower(),
        protocol=(group.protocol or "").upper(),
        port=_text(group.port),
        health_check=health,
        tags=dict(group.tags),
    )


def group_label(group: TargetGroupState) -> str:
    """How rules name a target group: the controller's resource id (an Ingress's or a
    Gateway's), else its name."""
    return group.tags.get(RESOURCE_TAG) or group.tags.get(GATEWAY_RESOURCE_TAG) or group.name


def actions_text(actions: tuple[ActionState, ...], groups: dict[str, TargetGroupState]) -> str:
    """Actions in order, each normalised (`forward <group>`, `redirect HTTPS:443 HTTP_301`)."""
    return ", ".join(_action(action, groups) for action in actions) or NONE


def _action(action: ActionState, groups: dict[str, TargetGroupState]) -> str:
    kind = action.type.lower()
    if kind == "forward":
        names = sorted(
            group_label(groups[arn]) if arn in groups else arn for arn in action.target_group_arns
        )
        return f"forward {'+'.join(names)}"
    if kind == "redirect":
        text = f"redirect {action.redirect_protocol}:{action.redirect_port} {action.status_code}"
        for name, value in (
            ("host", action.redirect_host),
            ("path", action.redirect_path),
            ("query", action.redirect_query),
        ):
            if value is not None and value != _KEEP[name]:
                text += f" {name}={value}"
        return text
    if kind == "fixed-response":
        return " ".join(part for part in (kind, action.status_code, action.content_type) if part)
    return kind


def _priority(rule: RuleState) -> tuple[int, str]:
    priority = rule.priority
    return (int(priority), "") if priority.isdigit() else (1 << 31, priority)


def _preference(group: TargetGroupState) -> tuple[bool, str]:
    # The group serving istio-ingressgateway first, should the Ingress have others.
    label = group_label(group)
    return (f"-{naming.INGRESS_SERVICE}:" not in label, label)


def _text(value: int | None) -> str:
    return "" if value is None else str(value)
