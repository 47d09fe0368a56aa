"""Cleanup's first step on the ALB: lift its deletion protection through the stack's Ingress
(the controller deletes a protected ALB only once the annotation says so), and see it lifted."""

from __future__ import annotations

from core.kubestate import DEFAULT_INGRESS, IngressRef
from tasks.aws.clients import AwsContext
from tasks.aws.elbv2_protection import wait_for_protection_lifted
from tasks.k8s.clients import KubeTarget, connect
from tasks.k8s.ingress import group_peers, lift_annotation, read_ingress
from tasks.logs import run_logger
from tasks.retry import retrying_task


@retrying_task
def lift_deletion_protection(
    ctx: AwsContext,
    target: KubeTarget,
    *,
    stack: str,
    ingress: IngressRef = DEFAULT_INGRESS,
) -> bool:
    """Before the stack's Ingress is deleted: annotate it with deletion protection off (its
    `load-balancer-attributes`; a stray delete may have left it terminating) and wait until the
    controller has turned the ALB's protection off, or deleted it. Nothing is lifted when the
    Ingress is not the stack's, does not protect its ALB, or shares it with other Ingresses of its
    group (it stays protected for them). False when nothing was lifted."""
    with connect(target) as kube:
        state = read_ingress(kube, ingress.namespace, ingress.name)
        if state is None or not state.owned_by(stack):
            return False
        peers = group_peers(kube, state)
        if peers:
            run_logger().info(
                "Ingress %s shares its ALB with %s: the ALB stays as they declare it",
                state.key,
                ", ".join(peers),
            )
            return False
        lifted = lift_annotation(kube, state)
    if lifted is None:
        return False
    if lifted.hostname:
        wait_for_protection_lifted(ctx, lifted.hostname)
    return True
