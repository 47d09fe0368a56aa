"""Which Gateway API CRDs to install, keep or refuse on a cluster (pure).

The AWS Load Balancer Controller v3.5.0 is built for the Gateway API v1.6.0 standard CRDs
(deployments/gateway-api/v1.6.0/). A cluster that lacks them gets the bundled ones; CRDs that
another tool installed are left as they are when they are v1.6.0 or later within v1 (standard
or experimental channel: the Gateway API keeps v1 backwards compatible), and refused with the
reason otherwise, as kubeflow-alb never upgrades CRDs others rely on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core import sharing
from core.manifests import Manifest, key

BUNDLE_ANNOTATION = "gateway.networking.k8s.io/bundle-version"
CHANNEL_ANNOTATION = "gateway.networking.k8s.io/channel"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
#: The bundled release, and where its asset is published.
BUNDLE = "v1.6.0"
RELEASE_URL = (
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/{}/standard-install.yaml"
)
#: What the controller's ALB Gateway controller reads: its CRD detection asks for Gateway,
#: GatewayClass, HTTPRoute and GRPCRoute at v1, and it watches ReferenceGrants.
NEEDED = frozenset(
    f"{plural}.{GATEWAY_API_GROUP}"
    for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants")
)
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-(\S+))?$")


@dataclass(frozen=True)
class CrdPlan:
    """What to do with the bundled Gateway API objects on one cluster."""

    #: The bundled objects to apply (missing ones, and ones a kubeflow-alb stack installed).
    apply: tuple[Manifest, ...]
    #: Names of the CRDs that stay as another tool installed them.
    kept: tuple[str, ...]
    #: Why the cluster's Gateway API CRDs cannot serve the controller (None: they can).
    problem: str | None = None
    #: Names of the bundled objects the cluster lacks.
    missing: tuple[str, ...] = ()


def bundle_version(crd: Mapping[str, Any]) -> str | None:
    """The Gateway API release a CRD comes from (its bundle-version annotation)."""
    annotations = (crd.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(BUNDLE_ANNOTATION)
    return str(value) if value else None


def version_problem(version: str | None, bundle: str = BUNDLE) -> str | None:
    """Why CRDs of Gateway API `version` cannot serve a controller built for `bundle`."""
    if version is None:
        return f"carries no {BUNDLE_ANNOTATION} annotation, so its release is unknown"
    found, wanted = _VERSION.match(version), _VERSION.match(bundle)
    if not found or not wanted:
        return f"has bundle version {version!r}, not a Gateway API release like {bundle}"
    if found.group(4):
        return f"is a pre-release ({version}); the controller is built for the release {bundle}"
    have = tuple(int(part) for part in found.groups()[:3])
    need = tuple(int(part) for part in wanted.groups()[:3])
    if have[0] != need[0]:
        return f"is Gateway API {version}, another major version than {bundle}"
    if have < need:
        return f"is Gateway API {version}, older than {bundle}"
    return None


def plan_gateway_crds(
    bundled: Iterable[Manifest],
    live: Mapping[str, Mapping[str, Any] | None],
    *,
    controller: str,
    bundle: str = BUNDLE,
) -> CrdPlan:
    """Decide per bundled object: apply it (missing, or installed by kubeflow-alb), keep it
    (another tool's, of a fitting release) or refuse (another tool's CRD the controller needs,
    of an older or unknown release).

    Args:
        bundled: the objects of the bundled standard install.
        live: `key(obj)` -> the live object (None: missing).
        controller: the controller version, for messages (e.g. "v3.5.0").
        bundle: the Gateway API release the controller is built for.
    """
    apply: list[Manifest] = []
    kept: list[str] = []
    missing: list[str] = []
    problems: list[str] = []
    for obj in bundled:
        found = live.get(key(obj))
        labels = ((found or {}).get("metadata") or {}).get("labels") or {}
        if found is None:
            missing.append(str((obj.get("metadata") or {}).get("name")))
        if found is None or sharing.made_by_tool(labels):
            apply.append(obj)
            continue
        name = str((obj.get("metadata") or {}).get("name"))
        kept.append(name)
        if obj.get("kind") != "CustomResourceDefinition" or name not in NEEDED:
            continue
        problem = version_problem(bundle_version(found), bundle)
        if problem:
            channel = ((found.get("metadata") or {}).get("annotations") or {}).get(
                CHANNEL_ANNOTATION, "unknown"
            )
            problems.append(f"{name} ({channel} channel) {problem}")
    if not problems:
        return CrdPlan(apply=tuple(apply), kept=tuple(kept), missing=tuple(missing))
    return CrdPlan(
        apply=tuple(apply),
        kept=tuple(kept),
        missing=tuple(missing),
        problem=(
            "The cluster's Gateway API CRDs, installed by another tool, cannot serve the AWS Load "
            f"Balancer Controller {controller} (built for Gateway API {bundle}): "
            + "; ".join(problems)
            + ". kubeflow-alb does not upgrade CRDs it did not install: upgrade them with "
            f"`kubectl apply --server-side -f {RELEASE_URL.format(bundle)}` (after checking "
            "what else uses them), or keep stack.frontDoor: ingress."
        ),
    )
