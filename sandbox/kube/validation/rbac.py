"""rbac.authorization.k8s.io rules: Roles, ClusterRoles and their bindings."""

from __future__ import annotations

from typing import Any

from .fielderrors import FieldError, GoValue, as_dict, invalid, not_supported, required

Obj = dict[str, Any]
_GROUP = "rbac.authorization.k8s.io"


def _strings(values: Any) -> GoValue:
    return GoValue("[]string{" + ", ".join(f'"{v}"' for v in values or []) + "}")


def _rule(rule: Any, field: str, *, namespaced: bool) -> list[FieldError]:
    rule = as_dict(rule)
    errors: list[FieldError] = []
    if not rule.get("verbs"):
        errors.append(required(f"{field}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            errors.append(
                invalid(
                    f"{field}.nonResourceURLs",
                    _strings(urls),
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errors.append(
                invalid(
                    f"{field}.nonResourceURLs",
                    _strings(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errors
    if not rule.get("apiGroups"):
        errors.append(
            required(f"{field}.apiGroups", "resource rules must supply at least one api group")
        )
    if not rule.get("resources"):
        errors.append(
            required(f"{field}.resources", "resource rules must supply at least one resource")
        )
    return errors


def role(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or []):
        errors += _rule(rule, f"rules[{i}]", namespaced=True)
    return errors


def cluster_role(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors: list[FieldError] = []
    aggregated = obj.get("aggregationRule")
    if aggregated is not None and obj.get("rules"):
        # The controller fills rules in for an aggregated role; a user may not.
        pass
    for i, rule in enumerate(obj.get("rules") or []):
        errors += _rule(rule, f"rules[{i}]", namespaced=False)
    return errors


def _ref_value(ref: dict[str, Any]) -> GoValue:
    return GoValue(
        f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup", "")}", Kind:"{ref.get("kind", "")}", Name:"{ref.get("name", "")}"}}'
    )


def _subjects(subjects: Any, *, cluster: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, subject in enumerate(subjects or []):
        subject = as_dict(subject)
        field = f"subjects[{i}]"
        kind, group = subject.get("kind"), subject.get("apiGroup", "")
        if not subject.get("name"):
            errors.append(required(f"{field}.name"))
        if kind == "ServiceAccount":
            if group:
                errors.append(not_supported(f"{field}.apiGroup", group, [""]))
            if cluster and not subject.get("namespace"):
                errors.append(required(f"{field}.namespace"))
        elif kind in ("User", "Group"):
            if group != _GROUP:
                errors.append(not_supported(f"{field}.apiGroup", group, [_GROUP]))
        else:
            errors.append(not_supported(f"{field}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errors


def _binding(obj: Obj, old: Obj | None, kinds: list[str], *, cluster: bool) -> list[FieldError]:
    ref = as_dict(obj.get("roleRef"))
    errors: list[FieldError] = []
    if ref.get("apiGroup") != _GROUP:
        errors.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [_GROUP]))
    if ref.get("kind") not in kinds:
        errors.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        errors.append(required("roleRef.name"))
    errors += _subjects(obj.get("subjects"), cluster=cluster)
    if old is not None and (old.get("roleRef") or {}) != ref:
        errors.append(invalid("roleRef", _ref_value(ref), "cannot change roleRef"))
    return errors


def role_binding(obj: Obj, old: Obj | None) -> list[FieldError]:
    return _binding(obj, old, ["Role", "ClusterRole"], cluster=False)


def cluster_role_binding(obj: Obj, old: Obj | None) -> list[FieldError]:
    return _binding(obj, old, ["ClusterRole"], cluster=True)
