"""Pure transformations of rendered Kubernetes manifests: parameters, ownership labels, apply order."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core import naming
from core.alb_options import ALB_PREFIX as ALB_PREFIX
from core.alb_options import DEFAULT_SSL_POLICY as DEFAULT_SSL_POLICY
from core.alb_options import option_annotations
from core.controller_versions import DEFAULT_CONTROLLER_VERSION, version_of_image
from core.errors import SpecError
from core.ingress_group import member_tags
from core.spec import Alb

Manifest = dict[str, Any]

#: Marks every value in deployments/ that kubeflow-alb sets on the rendered objects.
PLACEHOLDER = "SET-BY-KUBEFLOW-ALB"
#: spec.controller of an ALB IngressClass: the Load Balancer Controller, or EKS Auto Mode's built-in.
LBC_CONTROLLER = "ingress.k8s.aws/alb"
AUTO_MODE_CONTROLLER = "eks.amazonaws.com/alb"
ALB_CONTROLLERS = (LBC_CONTROLLER, AUTO_MODE_CONTROLLER)
WEBHOOK_SERVICE = "aws-load-balancer-webhook-service"
WEBHOOK_SECRET = "aws-load-balancer-webhook-tls"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
#: On the controller's pod template: a change of identity rolls the pods, which read their
#: credentials' source (IRSA's web identity, Pod Identity's agent) only when they start.
IDENTITY_ANNOTATION = "kubeflow-alb/controller-identity"
#: Deprecated class annotation (kubeflow-manifests still uses it); spec.ingressClassName replaces it.
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
SCHEMES = ("internet-facing", "internal")

# Apply order: definitions, then identities, then what runs, webhooks last (they intercept writes).
_KIND_ORDER = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "ServiceAccount": 2,
    "ClusterRole": 3,
    "Role": 3,
    "ClusterRoleBinding": 4,
    "RoleBinding": 4,
    "Secret": 5,
    "ConfigMap": 5,
    "Service": 6,
    "Deployment": 7,
    "MutatingWebhookConfiguration": 9,
    "ValidatingWebhookConfiguration": 9,
}


@dataclass(frozen=True)
class ControllerParams:
    """What differs per cluster in the controller manifests."""

    stack: str
    cluster_name: str
    region: str
    vpc_id: str
    role_arn: str  # empty: no role annotation (EKS Pod Identity names the role instead)
    ca_bundle: bytes = field(repr=False)  # PEM of the CA that signed the webhook serving cert
    #: The bundled version these objects are of; its Deployment must run that image tag.
    version: str = DEFAULT_CONTROLLER_VERSION
    identity: str = "irsa"


@dataclass(frozen=True)
class FrontDoorParams:
    """What every front door (the Ingress, or the Gateway's objects) takes from the stack."""

    stack: str
    certificate_arns: tuple[str, ...]
    scheme: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class IngressParams(FrontDoorParams):
    """What differs per stack in the Ingress (`core.desired.ingress_params` builds it)."""

    #: The spec's `kubeflow.alb`: its options (core/alb_options.py) become annotations.
    options: Alb = field(default_factory=Alb)
    ingress_class: str = naming.INGRESS_CLASS
    name: str = naming.INGRESS_NAME
    #: IngressGroup to join (one ALB shared by the group's Ingresses); None: an ALB of its own.
    group: str | None = None
    #: Host the Ingress's rules match when it shares an ALB (its rules then route by host).
    host: str | None = None


def key(obj: Mapping[str, Any]) -> str:
    """`Kind namespace/name` (or `Kind name` for cluster-scoped objects), for messages and reports."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def is_crd(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "CustomResourceDefinition"


def apply_order(objects: Iterable[Manifest]) -> list[Manifest]:
    """Objects sorted for applying (stable): CRDs first, webhook configurations last."""
    return sorted(objects, key=lambda obj: _KIND_ORDER.get(str(obj.get("kind")), 8))


def with_ownership(obj: Manifest, stack: str) -> Manifest:
    """A copy of obj with this stack's ownership labels added."""
    result = copy.deepcopy(obj)
    labels = result.setdefault("metadata", {}).setdefault("labels", {})
    labels.update(naming.ownership_labels(stack))
    return result


def configure_controller(objects: Iterable[Manifest], params: ControllerParams) -> list[Manifest]:
    """Set cluster, region, VPC, IRSA role (or none: Pod Identity), webhook CA and ownership
    labels on the controller objects."""
    missing = [name for name in ("cluster_name", "region", "vpc_id") if not getattr(params, name)]
    if params.identity == "irsa" and not params.role_arn:
        missing.append("role_arn")
    if missing or not params.ca_bundle:
        raise SpecError(f"Controller parameters missing: {', '.join(missing or ['ca_bundle'])}.")
    args = {
        "--cluster-name": params.cluster_name,
        "--aws-region": params.region,
        "--aws-vpc-id": params.vpc_id,
    }
    ca_bundle = base64.b64encode(params.ca_bundle).decode()
    result = []
    for original in objects:
        obj = with_ownership(original, params.stack)
        kind, name = obj.get("kind"), obj["metadata"].get("name")
        if kind == "ServiceAccount" and name == naming.CONTROLLER_SERVICE_ACCOUNT:
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations.pop(ROLE_ARN_ANNOTATION, None)  # Pod Identity: the SA names no role
            if params.role_arn:
                annotations[ROLE_ARN_ANNOTATION] = params.role_arn
        elif kind == "Deployment" and name == naming.CONTROLLER_NAME:
            template = obj["spec"]["template"].setdefault("metadata", {})
            template.setdefault("annotations", {})[IDENTITY_ANNOTATION] = params.identity
            for container in obj["spec"]["template"]["spec"]["containers"]:
                container["args"] = [_set_flag(arg, args) for arg in container.get("args", [])]
            _check_version(obj, params.version)
        elif kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for webhook in obj.get("webhooks", []):
                webhook.setdefault("clientConfig", {})["caBundle"] = ca_bundle
        result.append(obj)
    _check_resolved(result)
    return apply_order(result)


def controller_version(deployment: Mapping[str, Any]) -> str | None:
    """The version a controller Deployment runs: the tag of its controller container's image."""
    template = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in template.get("containers") or []:
        image = str(container.get("image") or "")
        if naming.CONTROLLER_NAME in image:
            return version_of_image(image)
    return None


def _check_version(deployment: Manifest, version: str) -> None:
    found = controller_version(deployment)
    if found != version:
        raise SpecError(
            f"{key(deployment)} of the bundled controller {version} runs image tag {found!r}; "
            f"the bundled manifests of {version} are inconsistent."
        )


def webhook_secret(stack: str, *, ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> Manifest:
    """The Secret the controller mounts as its webhook serving certificate."""
    data = {"ca.crt": ca_pem, "tls.crt": cert_pem, "tls.key": key_pem}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": WEBHOOK_SECRET,
            "namespace": naming.CONTROLLER_NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": naming.CONTROLLER_NAME,
                **naming.ownership_labels(stack),
            },
        },
        "type": "kubernetes.io/tls",
        "data": {name: base64.b64encode(value).decode() for name, value in data.items()},
    }


def select_ingress(objects: Iterable[Manifest]) -> Manifest:
    """The Ingress for istio-ingressgateway among rendered objects (ours, or a kubeflow-manifests dir)."""
    ingresses = [obj for obj in objects if obj.get("kind") == "Ingress"]
    for obj in ingresses:
        if obj.get("metadata", {}).get("name") == naming.INGRESS_NAME:
            return obj
    to_gateway = [obj for obj in ingresses if naming.INGRESS_SERVICE in _backend_services(obj)]
    if len(to_gateway) == 1:
        return to_gateway[0]
    found = ", ".join(key(obj) for obj in ingresses) or "none"
    raise SpecError(
        f"stack.manifestsPath: expected one Ingress named {naming.INGRESS_NAME!r} or routing to "
        f"Service {naming.INGRESS_SERVICE!r}; found Ingresses: {found}. Point manifestsPath at a "
        "kustomize directory such as kubeflow-manifests deployments/add-ons/load-balancer."
    )


def configure_ingress(ingress: Manifest, params: IngressParams) -> Manifest:
    """Set certificates, scheme, tags, the ALB options, class and ownership labels on the Ingress."""
    if not params.certificate_arns:
        raise SpecError(f"{key(ingress)}: at least one certificate ARN is needed for HTTPS.")
    if params.scheme not in SCHEMES:
        raise SpecError(f"{key(ingress)}: scheme {params.scheme!r} is not one of {SCHEMES}.")
    obj = with_ownership(ingress, params.stack)
    meta = obj["metadata"]
    meta.setdefault("namespace", naming.INGRESS_NAMESPACE)
    meta["name"] = params.name
    annotations = meta.setdefault("annotations", {})
    annotations.pop(naming.GROUP_ANNOTATION, None)
    if params.group is not None:
        annotations[naming.GROUP_ANNOTATION] = params.group
        # In a shared ALB the rules of every member are merged: ours must match our names only.
        for rule in (obj.get("spec") or {}).get("rules") or []:
            if params.host and not rule.get("host"):
                rule["host"] = params.host
    # The API server rejects the annotation together with spec.ingressClassName.
    annotations.pop(CLASS_ANNOTATION, None)
    obj.setdefault("spec", {})["ingressClassName"] = params.ingress_class
    annotations[ALB_PREFIX + "certificate-arn"] = ",".join(params.certificate_arns)
    annotations[ALB_PREFIX + "scheme"] = params.scheme
    tags = dict(params.tags)
    if params.group is not None:
        tags = member_tags(tags, stack_tag=naming.STACK_TAG, group=params.group)
    annotations[ALB_PREFIX + "tags"] = tags_annotation(tags)
    # A custom Ingress keeps its own annotations where an option is not set, and its own
    # attributes besides the options' (core/alb_options.py).
    annotations.update(option_annotations(params.options, annotations, where=key(obj)))
    _check_resolved([obj])
    return obj


def tags_annotation(tags: Mapping[str, str]) -> str:
    """`k1=v1,k2=v2`, sorted, as the controller's tags annotation expects."""
    for name, value in tags.items():
        if "," in name or "=" in name or "," in value:
            raise SpecError(
                f"Tag {name!r}={value!r} cannot be passed to the ALB controller: "
                "its tags annotation separates tags with ',' and key from value with '='."
            )
    return ",".join(f"{name}={tags[name]}" for name in sorted(tags))


def unresolved(objects: Iterable[Manifest]) -> list[str]:
    """Where a placeholder is left: `Kind ns/name: path`."""
    return [f"{key(obj)}: {path}" for obj in objects for path in _placeholders(obj, "")]


def _set_flag(arg: str, values: Mapping[str, str]) -> str:
    flag = arg.split("=", 1)[0]
    return f"{flag}={values[flag]}" if flag in values else arg


def _backend_services(ingress: Manifest) -> set[str]:
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}]
    for rule in spec.get("rules") or []:
        backends += [
            path.get("backend") or {} for path in (rule.get("http") or {}).get("paths", [])
        ]
    return {str((backend.get("service") or {}).get("name")) for backend in backends}


def _check_resolved(objects: list[Manifest]) -> None:
    left = unresolved(objects)
    if left:
        raise SpecError("Manifest values were not set: " + "; ".join(left))


def _placeholders(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _placeholders(item, f"{path}.{name}" if path else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _placeholders(item, f"{path}[{index}]")
    elif isinstance(value, str) and PLACEHOLDER in value:
        yield path
