"""The stack's Ingress rendered for a task test, as the walk renders it (tasks.k8s.manifests
with core.manifests' parameters)."""

from __future__ import annotations

from typing import Any

from core.manifests import IngressParams, Manifest, configure_ingress
from tasks.k8s.manifests import ingress_source


def desired_ingress(*, manifests_path: str | None = None, **params: Any) -> Manifest:
    """The rendered Ingress; `params` are IngressParams' fields."""
    if "certificate_arns" in params:
        params["certificate_arns"] = tuple(params["certificate_arns"])
    return configure_ingress(ingress_source(manifests_path), IngressParams(**params))
