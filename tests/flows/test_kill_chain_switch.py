"""A switch of front door, ingress -> gateway -> ingress on one live stack, SIGKILLed at each of
its steps, each run resuming the last (the harness of tests/flows/test_kill_chain.py, which
covers setup's and cleanup's own steps; only the switch's are killed here).

The steps: the Gateway API CRDs and the controller's restart (first switch only), the new front
door's first write to the Kubernetes API, the moment its controller reports the new ALB, the
record's move, and the old front door's deletion. At the new-ALB kill the new ALB is made to
answer 503 (no healthy target yet) on its own address: the resumed run must not move the record
until the dashboard answered through that address with the dashboard's name as SNI — the hold
is lifted by that request, and a record written while it holds fails the test. Each direction
ends with one ALB and an empty plan; a cleanup then leaves the world as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.spec import StackSpec, load_spec
from sandbox.aws.fault_rules import Request
from sandbox.https_endpoint import ServedRequest
from tasks.k8s.gateway_api import RESTART_ANNOTATION
from tests.flows.test_gateway_flow import _aws, _kube
from tests.flows.test_kill_chain import EXAMPLE, Chain, aws_step

STACK = "switch-chain"
GATEWAY_OBJECTS = {
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
    "LoadBalancerConfiguration",
    "TargetGroupConfiguration",
}
#: The steps of each switch (the CRDs and the controller's restart only the first time).
TO_GATEWAY = {"gateway-api", "controller-restart", "gateway", "new-alb", "dns-record",
              "ingress-delete"}  # fmt: skip
TO_INGRESS = {"ingress", "new-alb", "dns-record", "gateway-delete"}


def _host(name: str) -> str:
    return name.strip().rstrip(".").lower().removeprefix("dualstack.")


def new_alb(door: str, rtype: Any, obj: dict[str, Any]) -> str | None:
    """The ALB the new front door's controller reports in its status, if any."""
    status = obj.get("status") or {}
    if door == "gateway" and rtype.kind == "Gateway":
        found = [a.get("value") for a in status.get("addresses") or [] if a.get("value")]
        return _host(found[0]) if found else None
    if door == "ingress" and rtype.kind == "Ingress":
        found = [i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        return _host(found[0]) if found and found[0] else None
    return None


def switch_step(door: str, event: str, rtype: Any, obj: dict[str, Any]) -> str | None:
    """The switch step a write to the Kubernetes API server belongs to (`door`: the new one)."""
    meta, kind = obj.get("metadata") or {}, rtype.kind
    deleting = event == "DELETED" or bool(meta.get("deletionTimestamp"))
    name = str(meta.get("name", ""))
    if kind == "CustomResourceDefinition":
        ours = event == "ADDED" and name.endswith(".gateway.networking.k8s.io")
        return "gateway-api" if ours else None
    if kind == "Deployment" and name == "aws-load-balancer-controller" and event == "MODIFIED":
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        return (
            "controller-restart"
            if RESTART_ANNOTATION in (template.get("annotations") or {})
            else None
        )
    old = "ingress" if door == "gateway" else "gateway"
    if deleting and kind == old.capitalize():
        return f"{old}-delete"
    if deleting:
        return None
    if event == "ADDED" and kind in (GATEWAY_OBJECTS if door == "gateway" else {"Ingress"}):
        return door
    return "new-alb" if new_alb(door, rtype, obj) else None


class SwitchChain(Chain):
    """The chain, with the new ALB held unhealthy from its kill until the dashboard is asked
    through its own address."""

    def __init__(self, world: Any, env: dict[str, str], logs: Path, host: str) -> None:
        super().__init__(world, env, logs)
        self.base, self.host, self.door = logs, host, "gateway"
        self.held: str | None = None
        self.checked_through: list[str] = []
        self.moved_while_held: list[str] = []
        world.https.listeners.append(self._served)

    def switch(self, config: Path, door: str, steps: set[str]) -> list[str]:
        self.door = door
        self.kube_step = partial(switch_step, door)
        self.logs = self.base / f"to-{door}"  # each direction's runs' logs
        self.logs.mkdir(exist_ok=True)
        killed, _ = self.run(["setup", "--config", str(config)], steps)
        return killed

    def _kube_write(self, event: str, rtype: Any, obj: dict[str, Any]) -> None:
        step = self.kube_step(event, rtype, obj)
        if step is not None and self._take(step):
            if step == "new-alb":
                self.held = new_alb(self.door, rtype, obj)
                assert self.held is not None
                self.world.https.unhealthy.add(self.held)
            self.plan.kill_now(f"kube:{step}")

    def _aws_write(self, request: Request) -> bool:
        held = self.held in self.world.https.unhealthy
        if held and request.mutating and aws_step(request) == "dns-record":
            self.moved_while_held.append(str(self.held))
        return super()._aws_write(request)

    def _served(self, served: ServedRequest) -> None:
        """The first request through the held ALB's own address for the dashboard (answered
        503) lifts the hold: the next one is answered as usual."""
        held = served.alb is not None and served.alb in self.world.https.unhealthy
        if held and served.alb == self.held and served.server_name == self.host:
            self.checked_through.append(served.alb)
            self.world.https.unhealthy.discard(served.alb)


def _config(tmp_path: Path, door: str) -> tuple[Path, StackSpec]:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["stack"] |= {"name": STACK, "frontDoor": door}
    path = tmp_path / f"{door}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, load_spec(path.read_text())


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_switch_killed_at_each_step_resumes_both_ways_and_cleans_up(
    sandbox_world: Callable[..., Any], tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.check_drift import observe_plan
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(faults="seed=0")  # the fault layer, idle until a kill is armed
    aws_before, kube_before = _aws(world), _kube(world)
    to_gateway, gateway = _config(tmp_path, "gateway")
    to_ingress, ingress = _config(tmp_path, "ingress")
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "KFALB_LOCK_LEASE_SECONDS": "1",
        "KFALB_LOCK_POLL_SECONDS": "0.1",
    }
    setup_load_balancer(spec=ingress)  # the live stack (setup's own steps: the other chain)
    chain = SwitchChain(world, env, tmp_path, host=ingress.dashboard_host)
    elbv2 = world.aws.client("elbv2")

    for config, spec, door, steps in ((to_gateway, gateway, "gateway", TO_GATEWAY),
                                      (to_ingress, ingress, "ingress", TO_INGRESS)):  # fmt: skip
        killed = chain.switch(config, door, steps)
        assert sorted(killed) == sorted(steps)  # killed once at each step, then completed
        # the resumed run moved the record only after asking the held ALB itself
        assert chain.moved_while_held == []
        assert chain.checked_through == [chain.held]
        chain.checked_through.clear()
        (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
        assert _host(balancer["DNSName"]) == chain.held
        after = observe_plan(spec)[1]
        assert after.converged, [f"{c.item.key}: {c.differences}" for c in after.drift]

    leftovers = cleanup_load_balancer(stack=STACK)
    assert not any(leftovers.values()), leftovers
    assert _aws(world) == aws_before
    assert _kube(world) == kube_before
