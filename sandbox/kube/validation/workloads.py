"""Pod templates and apps/v1 Deployments (core and apps validation, the parts manifests hit)."""

from __future__ import annotations

from typing import Any

from sandbox.kube.selectors import label_selector_matches

from . import names
from .fielderrors import FieldError, GoValue, as_dict, duplicate, invalid, not_supported, required
from .meta import go_string_map, validate_labels

Obj = dict[str, Any]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_RESTART_POLICIES = ["Always", "Never", "OnFailure"]


def _container(container: Any, field: str) -> list[FieldError]:
    if not isinstance(container, dict):
        return [required(field)]
    errors: list[FieldError] = []
    name = container.get("name") or ""
    if not name:
        errors.append(required(f"{field}.name"))
    else:
        errors += [invalid(f"{field}.name", name, m) for m in names.dns1123_label(name)]
    if not container.get("image"):
        errors.append(required(f"{field}.image"))
    policy = container.get("imagePullPolicy")
    if policy is not None and policy not in _PULL_POLICIES:
        errors.append(not_supported(f"{field}.imagePullPolicy", policy, _PULL_POLICIES))
    port_names: set[str] = set()
    for i, port in enumerate(container.get("ports") or []):
        port = as_dict(port)
        pfield = f"{field}.ports[{i}]"
        if "containerPort" not in port:
            errors.append(required(f"{pfield}.containerPort"))
        else:
            errors += [
                invalid(f"{pfield}.containerPort", port["containerPort"], m)
                for m in names.port_number(port["containerPort"])
            ]
        if port.get("name"):
            errors += [
                invalid(f"{pfield}.name", port["name"], m) for m in names.port_name(port["name"])
            ]
            if port["name"] in port_names:
                errors.append(duplicate(f"{pfield}.name", port["name"]))
            port_names.add(port["name"])
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _PROTOCOLS:
            errors.append(not_supported(f"{pfield}.protocol", protocol, _PROTOCOLS))
    for i, env in enumerate(container.get("env") or []):
        if not (isinstance(env, dict) and env.get("name")):
            errors.append(required(f"{field}.env[{i}].name"))
    return errors


def pod_spec(
    spec: Any, field: str, *, restart_policies: list[str] | None = None
) -> list[FieldError]:
    """A PodSpec at ``field`` (``spec`` of a Pod, ``spec.template.spec`` of a workload)."""
    spec = as_dict(spec)
    errors: list[FieldError] = []
    containers = spec.get("containers") or []
    if not containers:
        errors.append(required(f"{field}.containers"))
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            errors += _container(container, f"{field}.{group}[{i}]")
            name = container.get("name") if isinstance(container, dict) else None
            if name and name in seen:
                errors.append(duplicate(f"{field}.{group}[{i}].name", name))
            if name:
                seen.add(name)
    allowed = restart_policies or _RESTART_POLICIES
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in allowed:
        errors.append(not_supported(f"{field}.restartPolicy", policy, allowed))
    volumes: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or []):
        name = (volume or {}).get("name") or ""
        if not name:
            errors.append(required(f"{field}.volumes[{i}].name"))
        elif name in volumes:
            errors.append(duplicate(f"{field}.volumes[{i}].name", name))
        volumes.add(name)
    if spec.get("serviceAccountName"):
        errors += [
            invalid(f"{field}.serviceAccountName", spec["serviceAccountName"], m)
            for m in names.dns1123_subdomain(spec["serviceAccountName"])
        ]
    return errors


def pod(obj: Obj, old: Obj | None) -> list[FieldError]:
    return pod_spec(obj.get("spec"), "spec")


def selector_value(selector: Any) -> GoValue:
    """A LabelSelector as Go's ``%#v`` prints it in the real immutable-field error."""
    selector = as_dict(selector)
    labels = selector.get("matchLabels")
    shown_labels = go_string_map(labels) if labels else "map[string]string(nil)"
    expressions = selector.get("matchExpressions")
    shown_exprs = (
        "[]v1.LabelSelectorRequirement{"
        + ", ".join(
            f'v1.LabelSelectorRequirement{{Key:"{e.get("key")}", Operator:"{e.get("operator")}", '
            f"Values:[]string{{{', '.join(chr(34) + v + chr(34) for v in e.get('values') or [])}}}}}"
            for e in expressions
        )
        + "}"
        if expressions
        else "[]v1.LabelSelectorRequirement(nil)"
    )
    return GoValue(
        f"v1.LabelSelector{{MatchLabels:{shown_labels}, MatchExpressions:{shown_exprs}}}"
    )


def deployment(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errors: list[FieldError] = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        errors.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = as_dict(spec.get("template"))
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector is None:
        errors.append(required("spec.selector"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errors.append(
            invalid(
                "spec.selector",
                selector_value(selector),
                "empty selector is invalid for deployment",
            )
        )
    else:
        errors += validate_labels(selector.get("matchLabels"), "spec.selector.matchLabels")
        if not label_selector_matches(selector, labels):
            errors.append(
                invalid(
                    "spec.template.metadata.labels",
                    GoValue(go_string_map(labels)),
                    "`selector` does not match template `labels`",
                )
            )
    errors += validate_labels(labels, "spec.template.metadata.labels")
    strategy = as_dict(spec.get("strategy"))
    kind = strategy.get("type")
    if kind is not None and kind not in ("Recreate", "RollingUpdate"):
        errors.append(not_supported("spec.strategy.type", kind, ["Recreate", "RollingUpdate"]))
    if kind == "Recreate" and strategy.get("rollingUpdate"):
        errors.append(
            invalid(
                "spec.strategy.rollingUpdate",
                GoValue("apps.RollingUpdateDeployment{...}"),
                "may not be specified when strategy `type` is 'Recreate'",
            )
        )
    errors += pod_spec(template.get("spec"), "spec.template.spec", restart_policies=["Always"])
    if old is not None:
        old_selector = (old.get("spec") or {}).get("selector")
        if selector is not None and old_selector is not None and selector != old_selector:
            errors.append(invalid("spec.selector", selector_value(selector), "field is immutable"))
    return errors
