"""The AWS Load Balancer Controller versions kubeflow-alb bundles (pure): each one's directory of
manifests and IAM policy under deployments/aws-load-balancer-controller/, and its image."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

IMAGE_REPOSITORY = "public.ecr.aws/eks/aws-load-balancer-controller"


@dataclass(frozen=True)
class ControllerRelease:
    """One bundled release, as its SOURCE.md describes it."""

    version: str
    released: str
    min_kubernetes: str
    #: The Gateway API release whose standard CRDs it is built for, when kubeflow-alb builds a
    #: Gateway front door with it (None: it cannot serve `stack.frontDoor: gateway`).
    gateway_api: str | None = None
    #: Why it cannot serve a Gateway front door (with gateway_api None).
    no_gateway: str = ""

    @property
    def image(self) -> str:
        return f"{IMAGE_REPOSITORY}:{self.version}"

    @property
    def directory(self) -> str:
        """Its directory under deployments/aws-load-balancer-controller/."""
        return self.version


#: Oldest first. Both need Kubernetes 1.22+ (the project's installation guide at each tag).
RELEASES: Mapping[str, ControllerRelease] = {
    release.version: release
    for release in (
        ControllerRelease(
            "v2.17.1",
            released="2026-01-09",
            min_kubernetes="1.22",
            no_gateway="its Gateway API support is a preview, off by default behind the "
            "ALBGatewayAPI gate, built for Gateway API v1.3.0 with gateway.k8s.aws/v1beta1 "
            "configuration CRDs only; the ALB Gateway controller is GA from v3.0.0",
        ),
        ControllerRelease(
            "v3.5.0", released="2026-08-03", min_kubernetes="1.22", gateway_api="v1.6.0"
        ),
    )
}
BUNDLED_VERSIONS: tuple[str, ...] = tuple(RELEASES)
#: The latest release: v2.x gets no releases after v2.17.1, fixes land on v3.x; for what
#: kubeflow-alb applies (an Ingress, its webhooks, the IAM policy) the two behave the same.
DEFAULT_CONTROLLER_VERSION = "v3.5.0"


def bundled_version_problem(value: str) -> str | None:
    """Why `value` is not a bundled version (None when it is one)."""
    if value in RELEASES:
        return None
    return (
        f"{value!r} is not a bundled AWS Load Balancer Controller version; "
        f"choose one of {', '.join(BUNDLED_VERSIONS)}"
    )


def release(version: str) -> ControllerRelease:
    """The bundled release of `version` (KeyError naming the bundled ones otherwise)."""
    try:
        return RELEASES[version]
    except KeyError:
        raise KeyError(bundled_version_problem(version)) from None


def version_of_image(image: str) -> str | None:
    """The tag of a controller image (`...:v3.5.0`, digests dropped), None when untagged."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1] or None


def gateway_problem(version: str) -> str | None:
    """Why the bundled controller `version` cannot build a Gateway front door (None: it can)."""
    found = RELEASES.get(version)
    if found is None or found.gateway_api is not None:
        return None
    able = ", ".join(v for v, r in RELEASES.items() if r.gateway_api is not None)
    return (
        f"gateway needs another AWS Load Balancer Controller than {version}: "
        f"{found.no_gateway}. Use stack.controllerVersion {able}, or frontDoor: ingress"
    )
