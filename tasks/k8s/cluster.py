"""Small reads shared by the controller and Ingress tasks: typed lookups and Warning events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from core.errors import TransientError
from core.manifests import Manifest
from tasks.k8s.apply import read, resource_for
from tasks.k8s.clients import Kube
from tasks.k8s.errors import is_not_found, translated
from tasks.logs import run_logger

T = TypeVar("T")

#: At most this many Warning events go into an error message.
MAX_EVENTS = 8


def get(
    kube: Kube, api_version: str, kind: str, name: str, namespace: str | None = None
) -> Manifest | None:
    """One live object as a dict, or None."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return read(kube, {"apiVersion": api_version, "kind": kind, "metadata": meta})


def list_objects(
    kube: Kube,
    api_version: str,
    kind: str,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
) -> list[Manifest]:
    """Live objects of a kind (empty when the kind is not served)."""
    resource = resource_for(kube, {"apiVersion": api_version, "kind": kind})
    if resource is None:
        return []
    with translated(f"Listing {kind} in {namespace or 'all namespaces'}"):
        try:
            found = resource.get(namespace=namespace, label_selector=label_selector)
        except Exception as error:
            if is_not_found(error):
                return []
            raise
    items: list[Manifest] = found.to_dict().get("items") or []
    return items


def warning_events(
    kube: Kube, *, namespace: str, kind: str, name: str = "", name_prefix: str = ""
) -> list[str]:
    """Recent Warning events about an object of `kind` (by name, or name prefix), newest last."""
    events = [
        event
        for event in list_objects(kube, "v1", "Event", namespace=namespace)
        if event.get("type") == "Warning"
        and (event.get("involvedObject") or {}).get("kind") == kind
        and _matches(str((event.get("involvedObject") or {}).get("name", "")), name, name_prefix)
    ]
    events.sort(key=_event_time)
    return [
        f"{(event.get('involvedObject') or {}).get('name')}: {event.get('reason')}: "
        f"{event.get('message', '').strip()}"
        + (f" (x{event['count']})" if (event.get("count") or 1) > 1 else "")
        for event in events[-MAX_EVENTS:]
    ]


def riding_out_blips(fetch: Callable[[], T], initial: T) -> Callable[[], T]:
    """`fetch` for a long wait: a transient API error counts as "nothing new" instead of ending
    the wait (the wait's own deadline still bounds it)."""
    last = [initial]

    def poll() -> T:
        try:
            last[0] = fetch()
        except TransientError as error:
            run_logger().warning("Still waiting; the API failed once: %s", error)
        return last[0]

    return poll


def _matches(found: str, name: str, prefix: str) -> bool:
    return found == name if name else found.startswith(prefix)


def _event_time(event: Manifest) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
