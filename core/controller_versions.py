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
        ControllerRelease("v2.17.1", released="2026-01-09", min_kubernetes="1.22"),
        ControllerRelease("v3.5.0", released="2026-08-03", min_kubernetes="1.22"),
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
