"""Declared and observed fields of the front door (pure): the ALB controller in use, the Ingress
rendered from its source with the stack's parameters, and the ALB the controller builds from it."""

from __future__ import annotations

from core import identity, naming
from core.alb import alb_fields, desired_alb_fields
from core.desired import certificate_requests, ingress_params
from core.ingress_group import member_view
from core.items_gateway import desired_gateway_alb, gateway_objects, is_gateway
from core.items_iam import controller_role_arn
from core.kubestate import declared_fields, ingress_fields
from core.manifests import ALB_PREFIX, Manifest, configure_ingress
from core.observation import Observation, controller_is_ours, ingress_class
from core.ownership import held_by_users, held_found
from core.plan import PRESENT, Item
from core.spec import StackSpec
from core.state import Kind
from core.webhook_ca import WEBHOOK_CA_FIELD, WEBHOOK_CA_MATCHES

Fields = dict[str, str]
Found = dict[tuple[Kind, str], Fields | None]

CONTROLLER_KEY = "ALB controller"
YES, NO = "yes", "no"
UNKNOWN = "unknown"


def load_balancer_key(spec: StackSpec) -> str:
    """The ALB item's key: the Ingress's ALB, or the IngressGroup's shared one."""
    if is_gateway(spec):
        return f"ALB of Gateway {spec.ingress_key}"
    group = spec.stack.ingress_group
    return f"ALB of IngressGroup {group}" if group else f"ALB of Ingress {spec.ingress_key}"


def certificate_arns(spec: StackSpec, seen: Observation) -> tuple[str, ...]:
    """ARNs of the stack's certificates found, in request order (the first is the default)."""
    found = (seen.certificates.get(request.domain) for request in certificate_requests(spec))
    return tuple(state.arn for state in found if state is not None)


def ingress_manifest(
    spec: StackSpec,
    seen: Observation,
    *,
    arns: tuple[str, ...] | None = None,
    class_name: str | None = None,
) -> Manifest | None:
    """The Ingress as the stack wants it: its source (the bundled base or the user's kustomize
    dir, as rendered) with the stack's parameters; `arns` and `class_name` as apply made them,
    else as observed (an ARN not known yet is PRESENT: any certificate satisfies the plan).
    None when the source was not read."""
    if seen.ingress_source is None:
        return None
    arns = arns if arns is not None else (certificate_arns(spec, seen) or (PRESENT,))
    class_name = class_name or ingress_class(spec, seen)
    params = ingress_params(spec, certificate_arns=arns, ingress_class=class_name)
    return configure_ingress(seen.ingress_source, params)


def desired_alb(spec: StackSpec, seen: Observation, manifest: Manifest | None) -> Fields:
    """The ALB's declared fields for the Ingress as rendered (certificates included)."""
    if manifest is None:
        return {"state": "active", "scheme": spec.kubeflow.alb.scheme}
    return desired_alb_fields(
        manifest, cluster=spec.cluster.name, target_port=seen.gateway_target_port
    )


def controller_items(spec: StackSpec, seen: Observation) -> list[Item]:
    ours = controller_is_ours(spec, seen)
    fields = {"usable": YES, "ingress_class": naming.INGRESS_CLASS if ours else PRESENT}
    if ours:  # one controller per cluster, shared by the cluster's stacks
        annotation = identity.role_annotation(spec, controller_role_arn(spec, seen))
        fields["role annotation"] = annotation or identity.NO_ANNOTATION
        # the version we install; one in use that is not ours runs what its owner chose
        fields["version"] = spec.stack.controller_version
        fields[WEBHOOK_CA_FIELD] = WEBHOOK_CA_MATCHES  # both caBundles: the Secret's CA
        fields |= held_by_users(seen.controller)
    return [Item(Kind.CONTROLLER, CONTROLLER_KEY, fields)]


def controller_found(spec: StackSpec, seen: Observation) -> Found:
    controller = seen.controller
    if controller is None or not (controller.ingress_class or controller.deployment):
        return {}
    return {
        (Kind.CONTROLLER, CONTROLLER_KEY): {
            "usable": YES if controller.usable else NO,
            "ingress_class": controller.ingress_class or "",
            "version": controller.version or UNKNOWN,
            "role annotation": controller.role_annotation or identity.NO_ANNOTATION,
            **({WEBHOOK_CA_FIELD: controller.webhook_ca} if controller.webhook_ca else {}),
            **held_found(controller.users, spec.name, ours=controller.owned),
        }
    }


def ingress_items(spec: StackSpec, seen: Observation) -> list[Item]:
    if is_gateway(spec):
        return []
    manifest = ingress_manifest(spec, seen)
    fields = ingress_fields(manifest) if manifest is not None else _minimal_ingress(spec, seen)
    return [Item(Kind.INGRESS, spec.ingress_key, fields)]


def ingress_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.ingress is None or is_gateway(spec):
        return {}
    return {(Kind.INGRESS, spec.ingress_key): seen.ingress.fields}


def balancer_items(spec: StackSpec, seen: Observation) -> list[Item]:
    wanted = wanted_alb(spec, seen)
    return [Item(Kind.LOAD_BALANCER, load_balancer_key(spec), wanted)]


def wanted_alb(spec: StackSpec, seen: Observation) -> Fields:
    """The ALB's declared fields, built from the stack's front door as observed."""
    if is_gateway(spec):
        return desired_gateway_alb(spec, seen, gateway_objects(spec, seen))
    return desired_alb(spec, seen, ingress_manifest(spec, seen))


def balancer_found(spec: StackSpec, seen: Observation) -> Found:
    balancer = seen.load_balancer
    if balancer is None:
        return {}
    if spec.stack.ingress_group:  # a shared ALB: only our Ingress's part is ours to compare
        wanted = desired_alb(spec, seen, ingress_manifest(spec, seen))
        balancer = member_view(balancer, ingress_key=spec.ingress_key, desired=wanted)
    return {(Kind.LOAD_BALANCER, load_balancer_key(spec)): alb_fields(balancer)}


def _minimal_ingress(spec: StackSpec, seen: Observation) -> Fields:
    """What we declare on the Ingress when its source was not read."""
    arns = ",".join(certificate_arns(spec, seen)) or PRESENT
    annotations = {
        f"{ALB_PREFIX}scheme": spec.kubeflow.alb.scheme,
        f"{ALB_PREFIX}certificate-arn": arns,
    }
    labels = naming.ownership_labels(spec.name)
    return declared_fields(ingress_class(spec, seen), annotations, labels)
