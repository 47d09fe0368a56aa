"""An ALB's listeners, certificates and rules converged to the model, as the controller does.

HTTP listeners under ``ssl-redirect`` redirect everything to HTTPS; other listeners answer 404
by default and act by rule (host and path): an Ingress's rules forward to the target groups, a
Gateway's rules belong to one listener each and may redirect or answer a fixed response. The
first certificate is the listener's default, the others are SNI certificates; out-of-band
changes are reverted.
"""

from __future__ import annotations

from typing import Any

from sandbox.albcontroller.access import Aws
from sandbox.albcontroller.model import ListenerModel, StackModel

#: (priority, conditions, action key): what is compared; actions are kept beside by key.
Rule = tuple[int, tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]


def default_actions(listener: ListenerModel) -> list[dict[str, Any]]:
    if listener.redirect_to is not None:
        redirect = {
            "Protocol": "HTTPS",
            "Port": str(listener.redirect_to),
            "StatusCode": "HTTP_301",
        }
        return [{"Type": "redirect", "RedirectConfig": redirect}]
    fixed = {"ContentType": "text/plain", "StatusCode": "404"}
    return [{"Type": "fixed-response", "FixedResponseConfig": fixed}]


def _action_key(action: dict[str, Any]) -> tuple[str, ...]:
    kind = str(action.get("Type"))
    if kind == "redirect":
        config = action.get("RedirectConfig") or {}
        return (
            kind,
            str(config.get("Protocol")),
            str(config.get("Port")),
            str(config.get("StatusCode")),
        )
    if kind == "fixed-response":
        return (kind, str((action.get("FixedResponseConfig") or {}).get("StatusCode")))
    return (kind, str(action.get("TargetGroupArn")))


def wanted_rules(
    model: StackModel, target_groups: dict[str, str], port: int | None = None
) -> dict[Rule, dict[str, Any]]:
    """The rules of the listener on `port` (an Ingress's: every non-redirecting listener's),
    each with the action to create it with."""
    rules: dict[Rule, dict[str, Any]] = {}
    for rule in model.rules:
        if rule.listener_port is not None and rule.listener_port != port:
            continue
        conditions: list[tuple[str, tuple[str, ...]]] = []
        if rule.host:
            conditions.append(("host-header", (rule.host,)))
        conditions.append(("path-pattern", tuple(sorted(rule.paths))))
        action = rule.action or {
            "Type": "forward",
            "TargetGroupArn": target_groups[rule.target_group],
        }
        rules[(rule.priority, tuple(sorted(conditions)), _action_key(action))] = action
    return rules


def _seen_rules(raw: list[dict[str, Any]]) -> set[Rule]:
    rules: set[Rule] = set()
    for rule in raw:
        if rule.get("IsDefault"):
            continue
        conditions = []
        for condition in rule.get("Conditions", []):
            field = str(condition["Field"])
            config = condition.get("HostHeaderConfig") or condition.get("PathPatternConfig") or {}
            values = condition.get("Values") or config.get("Values") or []
            conditions.append((field, tuple(sorted(values))))
        actions = rule.get("Actions") or [{}]
        rules.add((int(rule["Priority"]), tuple(sorted(conditions)), _action_key(actions[0])))
    return rules


def _sync_rules(aws: Aws, listener_arn: str, wanted: dict[Rule, dict[str, Any]]) -> None:
    raw = aws.call("elbv2", "DescribeRules", ListenerArn=listener_arn)["Rules"]
    if _seen_rules(raw) == set(wanted):
        return
    for rule in raw:
        if not rule.get("IsDefault"):
            aws.call("elbv2", "DeleteRule", RuleArn=rule["RuleArn"])
    for (priority, conditions, _), action in sorted(wanted.items()):
        aws.call(
            "elbv2",
            "CreateRule",
            ListenerArn=listener_arn,
            Priority=priority,
            Conditions=[{"Field": field, "Values": list(values)} for field, values in conditions],
            Actions=[action],
        )


def _sync_sni_certificates(aws: Aws, listener_arn: str, wanted: tuple[str, ...]) -> None:
    listed = aws.call("elbv2", "DescribeListenerCertificates", ListenerArn=listener_arn)
    extra = {c["CertificateArn"] for c in listed["Certificates"] if not c.get("IsDefault")}
    missing = [arn for arn in wanted if arn not in extra]
    stale = sorted(extra - set(wanted))
    if missing:
        aws.call(
            "elbv2",
            "AddListenerCertificates",
            ListenerArn=listener_arn,
            Certificates=[{"CertificateArn": arn} for arn in missing],
        )
    if stale:
        aws.call(
            "elbv2",
            "RemoveListenerCertificates",
            ListenerArn=listener_arn,
            Certificates=[{"CertificateArn": arn} for arn in stale],
        )


def _params(listener: ListenerModel) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Protocol": listener.protocol,
        "Port": listener.port,
        "DefaultActions": default_actions(listener),
    }
    if listener.protocol == "HTTPS":
        params["SslPolicy"] = listener.ssl_policy
        if listener.certificates:
            params["Certificates"] = [{"CertificateArn": listener.certificates[0]}]
    return params


def _differs(current: dict[str, Any], params: dict[str, Any]) -> bool:
    certificate = [c["CertificateArn"] for c in current.get("Certificates", [])[:1]]
    wanted_certificate = [c["CertificateArn"] for c in params.get("Certificates", [])]
    return (
        current.get("Protocol") != params["Protocol"]
        or current.get("SslPolicy") != params.get("SslPolicy", current.get("SslPolicy"))
        or certificate != wanted_certificate
        or [_action_key(a) for a in current.get("DefaultActions", [])]
        != [_action_key(a) for a in params["DefaultActions"]]
    )


def sync_listeners(
    aws: Aws, balancer_arn: str, model: StackModel, target_groups: dict[str, str]
) -> None:
    listed = aws.call("elbv2", "DescribeListeners", LoadBalancerArn=balancer_arn)["Listeners"]
    existing = {int(item["Port"]): item for item in listed}
    for listener in model.listeners:
        params = _params(listener)
        current = existing.pop(listener.port, None)
        if current is None:
            answer = aws.call("elbv2", "CreateListener", LoadBalancerArn=balancer_arn, **params)
            arn = answer["Listeners"][0]["ListenerArn"]
        else:
            arn = current["ListenerArn"]
            if _differs(current, params):
                aws.call("elbv2", "ModifyListener", ListenerArn=arn, **params)
        if listener.protocol == "HTTPS":
            _sync_sni_certificates(aws, arn, listener.certificates[1:])
        redirects = listener.redirect_to is not None
        _sync_rules(
            aws, arn, {} if redirects else wanted_rules(model, target_groups, listener.port)
        )
    for stale in existing.values():
        aws.call("elbv2", "DeleteListener", ListenerArn=stale["ListenerArn"])
