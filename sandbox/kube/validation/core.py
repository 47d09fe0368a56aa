"""Core (v1) rules: Namespace, Service, ConfigMap, Secret, ServiceAccount."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import names
from .fielderrors import (
    FieldError,
    GoValue,
    as_dict,
    duplicate,
    forbidden,
    immutable,
    invalid,
    not_supported,
    required,
    too_long,
)
from .meta import validate_labels

Obj = dict[str, Any]
_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_DATA_LIMIT = 1024 * 1024
_IMMUTABLE_SET = "field is immutable when `immutable` is set"
# Keys a Secret of a type must hold (core validation ValidateSecret).
_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
}


def _go_strings(values: list[Any]) -> GoValue:
    return GoValue("[]string{" + ", ".join(f'"{v}"' for v in values) + "}")


def _service_port(port: Any, field: str, service_type: str, many: bool) -> list[FieldError]:
    port = as_dict(port)
    errors: list[FieldError] = []
    name = port.get("name") or ""
    if many and not name:
        errors.append(required(f"{field}.name"))
    elif name:
        errors += [invalid(f"{field}.name", name, m) for m in names.dns1123_label(name)]
    if "port" not in port:
        errors.append(required(f"{field}.port"))
    else:
        errors += [
            invalid(f"{field}.port", port["port"], m) for m in names.port_number(port["port"])
        ]
    protocol = port.get("protocol")
    if protocol is not None and protocol not in _PROTOCOLS:
        errors.append(not_supported(f"{field}.protocol", protocol, _PROTOCOLS))
    target = port.get("targetPort")
    if isinstance(target, str):
        errors += [invalid(f"{field}.targetPort", target, m) for m in names.port_name(target)]
    elif target is not None:
        errors += [invalid(f"{field}.targetPort", target, m) for m in names.port_number(target)]
    if port.get("nodePort") and service_type not in ("NodePort", "LoadBalancer"):
        errors.append(
            forbidden(f"{field}.nodePort", f"may not be used when `type` is '{service_type}'")
        )
    return errors


def service(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errors: list[FieldError] = []
    service_type = spec.get("type") or "ClusterIP"
    if service_type not in _SERVICE_TYPES:
        errors.append(not_supported("spec.type", service_type, _SERVICE_TYPES))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if service_type == "ExternalName":
        external = spec.get("externalName") or ""
        if not external:
            errors.append(required("spec.externalName"))
        else:
            errors += [
                invalid("spec.externalName", external, m)
                for m in names.dns1123_subdomain(external.rstrip("."))
            ]
    elif not ports and not headless:
        errors.append(required("spec.ports"))
    port_names: set[str] = set()
    for i, port in enumerate(ports):
        errors += _service_port(port, f"spec.ports[{i}]", service_type, len(ports) > 1)
        name = (port or {}).get("name")
        if name and name in port_names:
            errors.append(duplicate(f"spec.ports[{i}].name", name))
        if name:
            port_names.add(name)
    ip = spec.get("clusterIP")
    if ip and ip != "None":
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            errors.append(
                invalid(
                    "spec.clusterIPs[0]",
                    ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    selector = spec.get("selector")
    if selector:
        errors += validate_labels(selector, "spec.selector")
    if old is not None:
        old_spec = old.get("spec") or {}
        was_external = old_spec.get("type") == "ExternalName"
        old_ip = old_spec.get("clusterIP")
        if service_type != "ExternalName" and not was_external and old_ip and ip != old_ip:
            errors.append(immutable("spec.clusterIP", ip or ""))
            errors.append(
                invalid(
                    "spec.clusterIPs[0]",
                    _go_strings(spec.get("clusterIPs") or [ip or ""]),
                    "may not change once set",
                )
            )
    return errors


def _data_keys(obj: Obj, field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in obj.get(field) or {}:
        errors += [invalid(f"{field}[{key}]", key, m) for m in names.config_key(str(key))]
    return errors


def _immutable_contents(obj: Obj, old: Obj | None, fields: tuple[str, ...]) -> list[FieldError]:
    if old is None or not old.get("immutable"):
        return []
    errors = []
    if not obj.get("immutable"):
        errors.append(forbidden("immutable", _IMMUTABLE_SET))
    for field in fields:
        if (obj.get(field) or {}) != (old.get(field) or {}):
            errors.append(forbidden(field, _IMMUTABLE_SET))
    return errors


def config_map(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors = _data_keys(obj, "data") + _data_keys(obj, "binaryData")
    for key in obj.get("binaryData") or {}:
        if key in (obj.get("data") or {}):
            errors.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
    size = sum(
        len(str(k)) + len(str(v))
        for f in ("data", "binaryData")
        for k, v in (obj.get(f) or {}).items()
    )
    if size > _DATA_LIMIT:
        errors.append(too_long("", _DATA_LIMIT))
    return errors + _immutable_contents(obj, old, ("data", "binaryData"))


def secret(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors = _data_keys(obj, "data")
    data = obj.get("data") or {}
    secret_type = obj.get("type") or "Opaque"
    for key in _SECRET_REQUIRED_KEYS.get(secret_type, ()):
        if key not in data:
            errors.append(required(f"data[{key}]"))
    if secret_type == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            errors.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    size = sum(len(str(v)) * 3 // 4 for v in data.values())
    if size > _DATA_LIMIT:
        errors.append(too_long("data", _DATA_LIMIT))
    if old is not None and (old.get("type") or "Opaque") != secret_type:
        errors.append(immutable("type", secret_type))
    return errors + _immutable_contents(obj, old, ("data",))


def namespace(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, finalizer in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        if finalizer != "kubernetes" and "/" not in str(finalizer):
            errors.append(
                invalid(
                    f"spec.finalizers[{i}]",
                    finalizer,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return errors


def service_account(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, ref in enumerate(obj.get("imagePullSecrets") or []):
        if not (isinstance(ref, dict) and ref.get("name")):
            errors.append(required(f"imagePullSecrets[{i}].name"))
    return errors
