"""What a Deployment's pods need before they can start: service account, Secrets, ConfigMaps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .storebase import Object

# (kind, namespace, name) -> whether the object exists
Exists = Callable[[str, str, str], bool]


def _volume_refs(volume: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    secret, config_map = volume.get("secret"), volume.get("configMap")
    if isinstance(secret, dict) and secret.get("secretName"):
        yield "Secret", secret["secretName"], bool(secret.get("optional"))
    if isinstance(config_map, dict) and config_map.get("name"):
        yield "ConfigMap", config_map["name"], bool(config_map.get("optional"))
    for source in (volume.get("projected") or {}).get("sources") or []:
        for kind, field in (("Secret", "secret"), ("ConfigMap", "configMap")):
            ref = source.get(field)
            if isinstance(ref, dict) and ref.get("name"):
                yield kind, ref["name"], bool(ref.get("optional"))


def _container_refs(container: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    for env in container.get("env") or []:
        source = env.get("valueFrom") or {}
        for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            ref = source.get(field)
            if isinstance(ref, dict) and ref.get("name"):
                yield kind, ref["name"], bool(ref.get("optional"))
    for env_from in container.get("envFrom") or []:
        for kind, field in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            ref = env_from.get(field)
            if isinstance(ref, dict) and ref.get("name"):
                yield kind, ref["name"], bool(ref.get("optional"))


def missing_references(deployment: Object, exists: Exists) -> list[str]:
    """``kind/name`` of everything the pod template needs that does not exist.

    Real pods stay in ContainerCreating (or CreateContainerConfigError) until these exist,
    so the Deployment does not become ready either.
    """
    namespace = deployment["metadata"]["namespace"]
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    refs: list[tuple[str, str, bool]] = [("ServiceAccount", account, False)]
    for volume in spec.get("volumes") or []:
        refs += _volume_refs(volume)
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        refs += _container_refs(container)
    missing = {
        f"{kind.lower()}/{name}"
        for kind, name, optional in refs
        if not optional and not exists(kind, namespace, name)
    }
    return sorted(missing)
