"""Requests as the verbs see them: parsed resource paths, bodies and field managers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import bad_request, unsupported_media_type
from .protobuf import decode_object
from .resources import Registry, ResourceType
from .storebase import Object
from .watch import Watcher

_NAMESPACE_SUBRESOURCES = frozenset({"status"})


@dataclass(frozen=True)
class Route:
    """A parsed resource path such as ``/apis/apps/v1/namespaces/ns/deployments/web/status``."""

    rtype: ResourceType
    namespace: str | None  # None: cluster-scoped, or all namespaces
    name: str | None
    subresource: str


@dataclass(frozen=True)
class Request:
    method: str
    route: Route
    query: Mapping[str, str]
    content_type: str
    body: bytes
    user_agent: str
    accept: str = "application/json"

    @property
    def as_table(self) -> bool:
        """kubectl get asks for server-side printing (a meta.k8s.io Table)."""
        return "as=Table" in self.accept


@dataclass(frozen=True)
class Response:
    code: int
    body: Object
    content_type: str = "application/json"


@dataclass(frozen=True)
class WatchStream:
    """A watch to stream; the HTTP layer writes its events and closes it."""

    watcher: Watcher
    rtype: ResourceType
    timeout: float
    # Turns each event's object into what the client asked for (e.g. a one-row Table).
    render: Callable[[Object], Object] | None = None


def parse_route(registry: Registry, parts: list[str]) -> Route | None:
    """Map path segments to a resource route, or None when they name no served resource."""
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    rtype = registry.get(group, version, rest[0])
    if rtype is None or (namespace is not None and not rtype.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and subresource not in rtype.subresources:
        return None
    if rtype.namespaced and name is not None and namespace is None:
        return None
    return Route(rtype, namespace, name, subresource)


def parse_body(request: Request, *, yaml_ok: bool = True) -> Any:
    if not request.body.strip():
        return None
    media = request.content_type.split(";")[0].strip().lower()
    if media == "application/vnd.kubernetes.protobuf":
        return decode_object(request.body)
    if "protobuf" in media or "cbor" in media:
        raise unsupported_media_type(media)
    try:
        return json.loads(request.body)
    except ValueError:
        if not yaml_ok:
            raise bad_request("the request body is not valid JSON") from None
    try:
        return yaml.safe_load(request.body)
    except yaml.YAMLError as exc:
        raise bad_request(f"the request body is not valid JSON or YAML: {exc}") from None


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def field_manager(request: Request) -> str:
    """``fieldManager``, else the user agent up to its first slash, as the real server does."""
    manager = request.query.get("fieldManager")
    if manager:
        return manager[:128]
    return (request.user_agent.split("/")[0] or "unknown")[:128]
