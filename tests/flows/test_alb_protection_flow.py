"""The ALB attributes of AWS Security Hub's controls and Kubeflow's idle timeout, end to end on
the sandbox: setup applies them through the Ingress, drift names each tampered one, remediation
restores it, cleanup lifts deletion protection first and leaves nothing, a stray `kubectl delete
ingress` leaves the ALB in place (and cleanup still leaves nothing), and a stack set up before
these options gets them as planned updates."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec
from tests.tamper import INGRESS, find_alb

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
KUBECTL = Path(sys.executable).parent / "kubectl"
ALB = "load-balancer ALB of Ingress istio-system/istio-ingress"
ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"
#: The ALB as the defaults of kubeflow.alb make it (ELB.4, ELB.6, ELB.12; Kubeflow's timeout).
SECURE = {
    "routing.http.drop_invalid_header_fields.enabled": "true",
    "deletion_protection.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "idle_timeout.timeout_seconds": "3600",
}
#: Each tampered the other way, as in the console or with `aws elbv2 modify-load-balancer-attributes`.
TAMPERED = {
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "deletion_protection.enabled": "false",
    "routing.http.desync_mitigation_mode": "monitor",
    "idle_timeout.timeout_seconds": "60",
}


def _spec(name: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = name
    return StackSpec.model_validate(data)


def _attributes(world: Any, arn: str) -> dict[str, str]:
    elbv2 = world.aws.client("elbv2")
    found = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return {item["Key"]: item["Value"] for item in found}


def _set(world: Any, arn: str, attributes: dict[str, str]) -> None:
    world.aws.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()]
    )


def _load_balancers(world: Any) -> list[str]:
    balancers = world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    return [balancer["LoadBalancerArn"] for balancer in balancers]


@contextmanager
def _task_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    logs = logging.getLogger("prefect.task_runs")  # Prefect's loggers do not propagate
    logs.addHandler(caplog.handler)
    try:
        yield
    finally:
        logs.removeHandler(caplog.handler)


def test_setup_applies_the_secure_attributes_drift_names_each_and_cleanup_lifts_protection(
    sandbox_world: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """One stack's life: setup, drift of each attribute repaired, the stack turned back into
    what a version before these options left (planned as updates, a setup applies them), then
    cleanup lifting protection."""
    from core.errors import DriftDetected
    from core.plan import Action
    from flows.check_drift import check_drift, observe_plan
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    spec = _spec("alb-protection")
    setup_load_balancer(spec=spec)
    arn = find_alb(world, spec.name)
    assert SECURE.items() <= _attributes(world, arn).items()
    assert observe_plan(spec)[1].converged

    _set(world, arn, TAMPERED)
    with pytest.raises(DriftDetected) as raised:
        check_drift(stack=spec.name)
    (alb_drift,) = [item for item in raised.value.items if item.startswith(ALB)]
    for key in TAMPERED:
        assert f"attribute {key}" in alb_drift

    assert check_drift(stack=spec.name, remediate=True)["status"] == "repaired"
    assert SECURE.items() <= _attributes(world, arn).items()
    assert observe_plan(spec)[1].converged

    # As the previous version left it: the Ingress set only the invalid-header attribute, and
    # the ALB had AWS's defaults for the others.
    store = world.kube.store
    ingress = store.get(*INGRESS)
    ingress["metadata"]["annotations"][ATTRIBUTES] = (
        "routing.http.drop_invalid_header_fields.enabled=true"
    )
    store.update(ingress)
    _set(world, arn, {"deletion_protection.enabled": "false", "idle_timeout.timeout_seconds": "60"})

    changes = {change.item.kind.value: change for change in observe_plan(spec)[1].changes}
    ingress_change, alb_change = changes["ingress"], changes["load-balancer"]
    assert (ingress_change.action, alb_change.action) == (Action.UPDATE, Action.UPDATE)
    assert [d.field for d in ingress_change.differences] == ["annotation:load-balancer-attributes"]
    assert {(d.field, d.expected, d.found) for d in alb_change.differences} == {
        ("attribute deletion_protection.enabled", "true", "false"),
        ("attribute idle_timeout.timeout_seconds", "3600", "60"),
    }

    setup_load_balancer(spec=spec)
    assert SECURE.items() <= _attributes(world, arn).items()
    assert observe_plan(spec)[1].converged

    with _task_logs(caplog):
        leftovers = cleanup_load_balancer(stack=spec.name)
    assert not any(leftovers.values()), leftovers
    assert _load_balancers(world) == []
    # AWS refuses to delete a protected ALB: cleanup lifted the protection first, and said so.
    assert "Ingress istio-system/istio-ingress annotated deletion_protection.enabled=false" in (
        caplog.text
    )
    assert f"Deletion protection of load balancer {arn} is lifted" in caplog.text
    refusals = [e for e in world.kube.store.list("v1", "Event", "istio-system")
                if "deletion_protection is enabled" in e.get("message", "")]  # fmt: skip
    assert refusals == []  # lifted before the delete: the controller never had to refuse


def test_a_stray_delete_keeps_the_protected_alb_and_cleanup_still_leaves_nothing(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    spec = _spec("alb-stray-delete")
    setup_load_balancer(spec=spec)
    arn = find_alb(world, spec.name)
    _, _, name, namespace = INGRESS
    stray = subprocess.run(
        [str(KUBECTL), "delete", "ingress", name, "-n", namespace, "--wait=false"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f'ingress.networking.k8s.io "{name}" deleted' in stray.stdout

    store = world.kube.store
    # The controller refuses (in its log only: v3.5.0 tells a group's active members, and a
    # lone Ingress being deleted is none); one pass of it, now, instead of waiting for one.
    world.controller.reconcile_once(force=True)
    ingress = store.get(*INGRESS)
    assert ingress["metadata"]["deletionTimestamp"]
    assert ingress["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]
    assert _load_balancers(world) == [arn]  # still serving
    assert _attributes(world, arn)["deletion_protection.enabled"] == "true"

    leftovers = cleanup_load_balancer(stack=spec.name)
    assert not any(leftovers.values()), leftovers
    assert _load_balancers(world) == []
    assert store.find(*INGRESS) is None
