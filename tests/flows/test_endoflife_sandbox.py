"""The ALB's end of life going wrong, against the sandbox: cleanup names each cause and the next
step, keeps the controller's finalizer until a sweep by the stack's tags finds nothing of it,
and once the cause is fixed leaves no ALB, target group or security group of the stack.

- a security group held by another network interface (DependencyViolation), together with a
  controller whose role lost its policy (AccessDenied): the first is named, then, fixed, the
  second is swept past with kubeflow-alb's own rights;
- deletion protection kept by another member of the group, deleted by hand;
- a member of the IngressGroup that does not build (and a third stack refused to join).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec
from tests.flows.test_many_stacks_sandbox import _aws_snapshot, _kube_snapshot

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
FINALIZER = "ingress.k8s.aws/resources"


def _spec(name: str, subdomain: str, **stack: Any) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name=name, **stack)
    data["route53"]["subDomain"]["name"] = subdomain
    return StackSpec.model_validate(data)


def _ingress(world: Any, name: str = "istio-ingress") -> dict[str, Any] | None:
    found: dict[str, Any] | None = world.kube.store.find(
        "networking.k8s.io/v1", "Ingress", name, "istio-system"
    )
    return found


def _left_of(world: Any, stack: str) -> list[str]:
    """The stack's load balancers, target groups and security groups (by its tags)."""
    elbv2, ec2 = world.aws.client("elbv2"), world.aws.client("ec2")
    arns = [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
    arns += [tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]]
    tagged = []
    for start in range(0, len(arns), 20):
        for item in elbv2.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
            if {t["Key"]: t["Value"] for t in item["Tags"]}.get("kubeflow-alb/stack") == stack:
                tagged.append(item["ResourceArn"])
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "tag:kubeflow-alb/stack", "Values": [stack]}]
    )["SecurityGroups"]
    return tagged + [group["GroupId"] for group in groups]


def _blocked(stack: str) -> str:
    from core.cleanup import CleanupIncomplete
    from flows.cleanup_load_balancer import cleanup_load_balancer

    with pytest.raises(CleanupIncomplete) as stopped:
        cleanup_load_balancer(stack=stack)
    return str(stopped.value)


def test_a_held_security_group_then_a_denied_controller_are_named_then_swept_past(
    sandbox_world: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    aws_before, kube_before = _aws_snapshot(world), _kube_snapshot(world)
    spec = _spec("eol-a", "platform.example.com")
    setup_load_balancer(spec=spec)
    release_group = world.alb_end_of_life("dependency-violation")
    world.alb_end_of_life("access-denied")  # the controller's role loses its policy

    message = _blocked(spec.name)
    assert "Ingress istio-system/istio-ingress stays terminating: DependencyViolation on " \
           "security group sg-" in message  # fmt: skip
    assert "an instance's interface, by hand" in message
    assert "Next: those network interfaces are not the load balancer's" in message
    assert FINALIZER in (_ingress(world) or {})["metadata"]["finalizers"]  # kept

    release_group()  # the interface is gone; the controller still cannot act
    caplog.set_level(logging.INFO)
    loggers = [logging.getLogger(name) for name in ("prefect.task_runs", "prefect.flow_runs")]
    for logger in loggers:  # Prefect's loggers do not propagate
        logger.addHandler(caplog.handler)
    try:
        assert not any(cleanup_load_balancer(stack=spec.name).values())
    finally:
        for logger in loggers:
            logger.removeHandler(caplog.handler)
    text = caplog.text
    assert "AccessDenied: the controller's AWS identity is broken" in text
    assert "allows elasticloadbalancing:DeleteLoadBalancer" in text
    assert (f"Removed the controller's finalizer {FINALIZER} from Ingress "
            "istio-system/istio-ingress: the sweep by stack eol-a's tags found none of its load "
            "balancers, target groups or security groups left.") in text  # fmt: skip
    assert _ingress(world) is None
    assert _left_of(world, spec.name) == []
    assert _aws_snapshot(world) == aws_before
    assert _kube_snapshot(world) == kube_before


def test_a_protected_member_deleted_by_hand_is_named_and_the_fix_lets_cleanup_finish(
    sandbox_world: Callable[..., Any],
) -> None:
    """Cleanup lifts its own Ingress's protection; another member of the group, deleted by
    hand (`kubectl delete ingress`) while it keeps protection on, stops the whole group."""
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(controller="preinstalled")
    aws_before = _aws_snapshot(world)
    first = _spec("eol-b", "platform.example.com", ingressGroup="kubeflow")
    second = _spec("eol-b2", "team2.example.com", ingressName="team2", ingressGroup="kubeflow")
    setup_load_balancer(spec=first)
    setup_load_balancer(spec=second)
    keep = world.alb_end_of_life("protected", ingress="istio-system/team2")
    world.kube.store.delete("networking.k8s.io/v1", "Ingress", "team2", "istio-system")

    message = _blocked(first.name)
    assert "stays terminating: a protected ALB (deletion protection)" in message
    # The evidence: the controller's Event when it has reconciled the group already, else the
    # member's annotation (which comes first depends on the controller's timing).
    assert ("Ingress istio-system/team2, being deleted, keeps deletion protection on" in message
            or "deletion_protection is enabled, cannot delete the ingress: team2" in message)  # fmt: skip
    assert "kubectl -n istio-system edit ingress team2" in message
    assert FINALIZER in (_ingress(world) or {})["metadata"]["finalizers"]

    keep()  # deletion_protection.enabled=false on team2: the controller carries both out
    assert not any(cleanup_load_balancer(stack=first.name).values())
    assert not any(cleanup_load_balancer(stack=second.name).values())
    assert _left_of(world, first.name) == _left_of(world, second.name) == []
    assert _aws_snapshot(world) == aws_before


def test_a_group_member_that_does_not_build_is_named_and_a_third_stack_may_not_join(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.errors import PreflightError
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world = sandbox_world(controller="preinstalled")
    aws_before = _aws_snapshot(world)
    first = _spec("eol-c", "platform.example.com", ingressGroup="kubeflow")
    second = _spec("eol-d", "team2.example.com", ingressName="team2", ingressGroup="kubeflow")
    setup_load_balancer(spec=first)
    setup_load_balancer(spec=second)
    remove_broken = world.alb_end_of_life("group-member")
    world.controller.reconcile_once(force=True)

    third = _spec("eol-e", "team3.example.com", ingressName="team3", ingressGroup="kubeflow")
    calls = api_calls()
    with pytest.raises(PreflightError) as refused:
        setup_load_balancer(spec=third)
    assert "IngressGroup kubeflow does not build" in str(refused.value)
    assert "Fix or remove Ingress istio-system/broken first" in str(refused.value)
    assert api_calls().since(calls).mutating_calls() == ()

    message = _blocked(first.name)
    assert "stays terminating: FailedBuildModel of IngressGroup kubeflow member " \
           "istio-system/broken" in message  # fmt: skip
    assert "unable to find port 81 on service istio-system/istio-ingressgateway" in message
    assert FINALIZER in (_ingress(world) or {})["metadata"]["finalizers"]

    remove_broken()
    assert not any(cleanup_load_balancer(stack=first.name).values())
    assert _ingress(world) is None
    assert not any(cleanup_load_balancer(stack=second.name).values())
    assert _left_of(world, first.name) == _left_of(world, second.name) == []
    assert _aws_snapshot(world) == aws_before
