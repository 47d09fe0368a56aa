"""networking.k8s.io and discovery.k8s.io rules: Ingress, IngressClass, EndpointSlice."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import names
from .fielderrors import FieldError, GoValue, as_dict, forbidden, invalid, not_supported, required

Obj = dict[str, Any]
_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
# What Exact and Prefix paths may not contain or end with (networking validation).
_BAD_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_BAD_SUFFIXES = ("/..", "/.")
_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _backend(backend: Any, field: str) -> list[FieldError]:
    backend = as_dict(backend)
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(field, "", "cannot set both resource and service backends")]
    if isinstance(resource, dict):
        errors = []
        for key in ("kind", "name"):
            if not resource.get(key):
                errors.append(required(f"{field}.resource.{key}"))
        return errors
    if not isinstance(service, dict):
        return [invalid(field, "", "resource or service backend is required")]
    errors = []
    name = service.get("name") or ""
    if not name:
        errors.append(required(f"{field}.service.name"))
    else:
        errors += [invalid(f"{field}.service.name", name, m) for m in names.dns1035_label(name)]
    port = as_dict(service.get("port"))
    port_name, port_number = port.get("name") or "", port.get("number") or 0
    if port_name and port_number:
        errors.append(invalid(field, "", "cannot set both port name & port number"))
    elif port_name:
        errors += [
            invalid(f"{field}.service.port.name", port_name, m) for m in names.port_name(port_name)
        ]
    elif port_number:
        errors += [
            invalid(f"{field}.service.port.number", port_number, m)
            for m in names.port_number(port_number)
        ]
    else:
        errors.append(required(field, "port name or number is required"))
    return errors


def _path(path: Any, field: str) -> list[FieldError]:
    path = as_dict(path)
    kind, value = path.get("pathType"), path.get("path") or ""
    if not kind:
        return [required(f"{field}.pathType", "pathType must be specified")]
    errors = []
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errors.append(invalid(f"{field}.path", value, "must be an absolute path"))
        errors += [
            invalid(f"{field}.path", value, f"must not contain '{seq}'")
            for seq in _BAD_SEQUENCES
            if value and seq in value
        ]
        errors += [
            invalid(f"{field}.path", value, f"cannot end with '{suffix}'")
            for suffix in _BAD_SUFFIXES
            if value and value.endswith(suffix)
        ]
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errors.append(invalid(f"{field}.path", value, "must be an absolute path"))
    else:
        errors.append(not_supported(f"{field}.pathType", kind, _PATH_TYPES))
    return errors + _backend(path.get("backend"), f"{field}.backend")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _host(host: str, field: str) -> list[FieldError]:
    errors = []
    if _is_ip(host):
        errors.append(invalid(field, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        if not (host.startswith("*.") and not names.dns1123_subdomain(host[2:])):
            errors.append(
                invalid(
                    field,
                    host,
                    names.regex_error(
                        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid "
                        "DNS subdomain, which must consist of lower case alphanumeric characters, "
                        "'-' or '.' and end with an alphanumeric character",
                        "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
                        "*.example.com",
                    ),
                )
            )
    else:
        errors += [invalid(field, host, m) for m in names.dns1123_subdomain(host)]
    return errors


def ingress(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    rules = spec.get("rules") or []
    errors: list[FieldError] = []
    if not rules and not spec.get("defaultBackend"):
        errors.append(
            invalid(
                "spec",
                GoValue("[]networking.IngressRule(nil)"),
                "either `defaultBackend` or `rules` must be specified",
            )
        )
    if spec.get("defaultBackend"):
        errors += _backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules):
        rule = as_dict(rule)
        if rule.get("host"):
            errors += _host(rule["host"], f"spec.rules[{i}].host")
        http = rule.get("http")
        if isinstance(http, dict):
            paths = http.get("paths") or []
            if not paths:
                errors.append(required(f"spec.rules[{i}].http.paths"))
            for j, path in enumerate(paths):
                errors += _path(path, f"spec.rules[{i}].http.paths[{j}]")
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate((tls or {}).get("hosts") or []):
            errors += _host(host, f"spec.tls[{i}].hosts[{j}]")
        secret = (tls or {}).get("secretName")
        if secret:
            errors += [
                invalid(f"spec.tls[{i}].secretName", secret, m)
                for m in names.dns1123_subdomain(secret)
            ]
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errors += [
            invalid("spec.ingressClassName", class_name, m)
            for m in names.dns1123_subdomain(class_name)
        ]
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(_CLASS_ANNOTATION)
    if old is None and annotation is not None and class_name and annotation != class_name:
        errors.append(
            invalid(
                f"annotations.{_CLASS_ANNOTATION}",
                annotation,
                "must match `ingressClassName` when both are specified",
            )
        )
    return errors


def ingress_class(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errors: list[FieldError] = []
    controller = spec.get("controller") or ""
    if not controller:
        errors.append(required("spec.controller"))
    else:
        host, _, rest = controller.partition("/")
        if not host or not rest:
            errors.append(
                invalid(
                    "spec.controller",
                    controller,
                    'must be a domain-prefixed path (such as "acme.io/foo")',
                )
            )
        else:
            errors += [invalid("spec.controller", host, m) for m in names.dns1123_subdomain(host)]
    params = spec.get("parameters")
    if isinstance(params, dict):
        for key in ("kind", "name"):
            if not params.get(key):
                errors.append(required(f"spec.parameters.{key}"))
        scope = params.get("scope")
        if scope is not None and scope not in ("Cluster", "Namespace"):
            errors.append(not_supported("spec.parameters.scope", scope, ["Cluster", "Namespace"]))
        if scope == "Namespace" and not params.get("namespace"):
            errors.append(
                required("spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'")
            )
        if scope == "Cluster" and params.get("namespace"):
            errors.append(
                forbidden("spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'")
            )
    return errors


_ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]


def endpoint_slice(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors: list[FieldError] = []
    address_type = obj.get("addressType")
    if not address_type:
        errors.append(required("addressType"))
    elif address_type not in _ADDRESS_TYPES:
        errors.append(not_supported("addressType", address_type, _ADDRESS_TYPES))
    for i, endpoint in enumerate(obj.get("endpoints") or []):
        addresses = (endpoint or {}).get("addresses") or []
        field = f"endpoints[{i}].addresses"
        if not addresses:
            errors.append(required(field, "must contain at least 1 address"))
        for j, address in enumerate(addresses):
            if address_type in ("IPv4", "IPv6"):
                version: int = 0
                try:
                    version = ipaddress.ip_address(address).version
                except ValueError:
                    pass
                if f"IPv{version}" != address_type:
                    errors.append(
                        invalid(f"{field}[{j}]", address, f"must be a valid {address_type} address")
                    )
    for i, port in enumerate(obj.get("ports") or []):
        port = as_dict(port)
        if port.get("name"):
            errors += [
                invalid(f"ports[{i}].name", port["name"], m)
                for m in names.dns1123_label(port["name"])
            ]
        protocol = port.get("protocol")
        if protocol is not None and protocol not in ("SCTP", "TCP", "UDP"):
            errors.append(not_supported(f"ports[{i}].protocol", protocol, ["SCTP", "TCP", "UDP"]))
    return errors
