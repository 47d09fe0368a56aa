"""The ``scale`` subresource of Deployments (``kubectl scale``), as autoscaling/v1 Scale objects."""

from __future__ import annotations

from typing import Any

from .errors import bad_request


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The Scale view of a Deployment."""
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {
            "replicas": int(status.get("replicas", 0)),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        },
    }


def with_scale(obj: dict[str, Any], scale: Any) -> dict[str, Any]:
    """``obj`` with the replicas a changed Scale asks for."""
    replicas = (scale.get("spec") or {}).get("replicas") if isinstance(scale, dict) else None
    if not isinstance(replicas, int) or replicas < 0:
        raise bad_request("a Scale needs spec.replicas, a non-negative integer")
    wanted_rv = (scale.get("metadata") or {}).get("resourceVersion")
    updated = dict(obj)
    updated["spec"] = {**(obj.get("spec") or {}), "replicas": replicas}
    if wanted_rv:
        updated["metadata"] = {**obj["metadata"], "resourceVersion": wanted_rv}
    return updated
