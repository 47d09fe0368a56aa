"""Observed states of Kubernetes objects: frozen, pure models shared by tasks, the planner and reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from core import naming
from core.manifests import ALB_PREFIX, AUTO_MODE_CONTROLLER, LBC_CONTROLLER
from core.resources import StateModel

ApplyAction = Literal["created", "changed", "unchanged"]
Provider = Literal["aws-load-balancer-controller", "eks-auto-mode", "none"]


class AppliedObject(StateModel):
    """One object after server-side apply: created, changed, or untouched by the API server."""

    key: str = Field(description="Kind namespace/name.")
    action: ApplyAction


class ApplyReport(StateModel):
    """What one apply did to each object, in apply order."""

    objects: tuple[AppliedObject, ...] = ()

    @property
    def changed(self) -> bool:
        return any(item.action != "unchanged" for item in self.objects)

    def of(self, action: ApplyAction) -> tuple[str, ...]:
        return tuple(item.key for item in self.objects if item.action == action)


class ControllerState(StateModel):
    """The ALB controller as seen in the cluster: an ALB IngressClass and the controller Deployment."""

    ingress_class: str | None = Field(default=None, description="Name of the ALB IngressClass.")
    class_controller: str | None = Field(default=None, description="Its spec.controller.")
    deployment: str | None = Field(default=None, description="namespace/name of the Deployment.")
    ready_replicas: int = 0
    owned: bool = Field(
        default=False,
        description="Installed by a kubeflow-alb stack (its labels): shared by the cluster's "
        "stacks, each of which may re-apply it.",
    )
    users: tuple[str, ...] = Field(
        default=(), description="The stacks that use it (their marks on the Deployment)."
    )
    version: str | None = Field(
        default=None, description="The controller image's tag (its version), when tagged."
    )
    role_annotation: str | None = Field(
        default=None, description="eks.amazonaws.com/role-arn of the controller's service account."
    )
    webhook_ca: str | None = Field(
        default=None,
        description="Whether both webhook configurations trust the CA in the webhook's Secret "
        "(core.webhook_ca: WEBHOOK_CA_MATCHES, or the mismatch); None: not looked at (not ours).",
    )

    @property
    def provider(self) -> Provider:
        if self.class_controller == AUTO_MODE_CONTROLLER:
            return "eks-auto-mode"
        if self.class_controller == LBC_CONTROLLER and self.ready_replicas >= 1:
            return "aws-load-balancer-controller"
        return "none"

    @property
    def usable(self) -> bool:
        """Auto Mode runs its controller outside the cluster, so its IngressClass alone counts."""
        return self.provider != "none"


class ControllerOutcome(StateModel):
    """Which controller serves our Ingress, and whether this run installed it."""

    provider: Provider
    ingress_class: str
    installed: bool = Field(
        description="The controller objects are ours (this stack applied them)."
    )
    applied: ApplyReport | None = None


class IngressRef(StateModel):
    """Which Ingress a task works on: by default the stack's, under its default name (a stack
    that names it otherwise passes `IngressRef(name=spec.ingress_name)`)."""

    namespace: str = naming.INGRESS_NAMESPACE
    name: str = naming.INGRESS_NAME

    @property
    def key(self) -> str:
        """`namespace/name`, as plans and messages show it."""
        return f"{self.namespace}/{self.name}"


DEFAULT_INGRESS = IngressRef()


class IngressState(StateModel):
    """An Ingress as observed: what the drift check compares, and its load balancer address."""

    namespace: str
    name: str
    ingress_class: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    hostname: str | None = None
    finalizers: tuple[str, ...] = ()
    deleting: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def owned_by(self, stack: str) -> bool:
        return naming.is_owned(self.labels, stack)

    @property
    def fields(self) -> dict[str, str]:
        return declared_fields(self.ingress_class, self.annotations, self.labels)


def ingress_fields(ingress: Mapping[str, Any]) -> dict[str, str]:
    """The declared fields of a desired Ingress manifest, comparable with `IngressState.fields`."""
    meta = ingress.get("metadata") or {}
    spec = ingress.get("spec") or {}
    return declared_fields(
        spec.get("ingressClassName"), meta.get("annotations") or {}, meta.get("labels") or {}
    )


def declared_fields(
    ingress_class: str | None, annotations: Mapping[str, str], labels: Mapping[str, str]
) -> dict[str, str]:
    """Class, ALB annotations and ownership labels: what we set, nothing the server defaults."""
    fields = {"class": ingress_class or ""}
    for name, value in annotations.items():
        if name.startswith(ALB_PREFIX):
            fields[f"annotation:{name.removeprefix(ALB_PREFIX)}"] = value
    for name in (naming.STACK_TAG, naming.MANAGED_BY_TAG):
        fields[f"label:{name}"] = labels.get(name, "")
    return fields


class DeleteReport(StateModel):
    """What a delete removed, and what it left because the objects are not this stack's."""

    deleted: tuple[str, ...] = ()
    left: tuple[str, ...] = Field(default=(), description="Exist without our ownership labels.")

    @property
    def changed(self) -> bool:
        return bool(self.deleted)


class IngressOutcome(StateModel):
    """The Ingress after apply, and what the apply did to it."""

    state: IngressState
    action: ApplyAction


class KubeAccess(StateModel):
    """The Kubernetes API as preflight found it."""

    server: str
    version: str
