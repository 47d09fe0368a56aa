"""The AWS Load Balancer Controller: the one in use (Helm, EKS Auto Mode), or ours, one per
cluster and held by its stacks' marks."""

from __future__ import annotations

from typing import Any

from core import identity
from core.kubestate import ControllerOutcome
from core.observation import controller_is_ours, ingress_class
from core.state import Kind
from tasks.aws.owned import delete_unused_backend_security_group
from tasks.k8s.cluster import preflight_permissions
from tasks.k8s.controller import delete_controller, ensure_controller, observe_controller
from tasks.k8s.manifests import controller_base, render
from tasks.kinds.base import Env, Got, Look, Verbs
from tasks.kinds.iam import _arns


def observe(look: Look) -> dict[str, Any]:
    if look.target is None:
        return {}
    recorded = look.record.first(Kind.CONTROLLER) if look.record else None
    return {
        "controller": observe_controller.fn(look.target, look.spec.name),
        "controller_recorded": bool(recorded and recorded.owned),
    }


def current(env: Env) -> ControllerOutcome | None:
    found = env.seen.controller
    if found is None:
        return None
    return ControllerOutcome(
        provider=found.provider,
        ingress_class=ingress_class(env.spec, env.seen),
        installed=controller_is_ours(env.spec, env.seen),
    )


def check(env: Env) -> None:
    """This identity may install the controller (CRDs, RBAC, webhooks of the stack's version),
    when the stack installs it: checked before anything of the stack is made."""
    if controller_is_ours(env.spec, env.seen):
        objects = render(controller_base(env.spec.stack.controller_version))
        preflight_permissions.fn(env.kube, objects)


def ensure(env: Env, got: Got) -> ControllerOutcome:
    """Use the cluster's controller, or install ours (its role, association and subnet tags are
    made first) and wait until it serves."""
    spec, cluster = env.spec, env.cluster
    ours = controller_is_ours(spec, env.seen)
    _, role = _arns(env)
    outcome: ControllerOutcome = ensure_controller.fn(
        env.kube,
        mode="install" if ours else spec.stack.controller,
        stack=spec.name,
        cluster_name=cluster.name if cluster else spec.cluster.name,
        region=spec.region,
        vpc_id=(cluster.vpc_id if cluster else None) or "",
        role_arn=(identity.role_annotation(spec, role) or "") if ours else "",
        identity=spec.stack.controller_identity,
        version=spec.stack.controller_version,
    )
    return outcome


def delete(env: Env) -> str:
    objects = env.seen.sweep.controller_objects if env.seen.sweep else ()
    if env.target is None or not objects:
        return ""
    report = delete_controller.fn(env.kube, env.spec.name)
    # Its backend security group outlives it when it was gone before its last ALB.
    if env.cluster is not None:
        delete_unused_backend_security_group.fn(env.ctx, env.cluster.name)
    if report.deleted:
        return f"removed the ALB controller ({len(report.deleted)} objects)"
    return "removed this stack's use of the shared ALB controller"


VERBS = Verbs(observe=observe, current=current, ensure=ensure, delete=delete, check=check)
