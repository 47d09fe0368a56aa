"""Whether the controller runs its ALB Gateway controller, decided as v3.5.0 decides it.

The `ALBGatewayAPI` gate defaults to on in v3.x (off in v2.x). When the controller starts,
while any of `ALBGatewayAPI`, `NLBGatewayAPI` and `GatewayListenerSet` is left unset, it looks
for the CRDs the ALB Gateway controller needs (Gateway, GatewayClass, HTTPRoute, GRPCRoute in
`gateway.networking.k8s.io/v1`; TargetGroupConfiguration, LoadBalancerConfiguration,
ListenerRuleConfiguration in `gateway.k8s.aws/v1`) and turns the gate off when one is missing
(`pkg/gateway/crddetect`). It looks only then: CRDs installed later need a restart of the
controller (here: a new generation of its Deployment, as `kubectl rollout restart` makes).
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes.dynamic.exceptions import ResourceNotFoundError

from sandbox.albcontroller.kube import Cluster

log = logging.getLogger(__name__)

GATES = ("ALBGatewayAPI", "NLBGatewayAPI", "GatewayListenerSet")
NEEDED = {
    "gateway.networking.k8s.io/v1": ("Gateway", "GatewayClass", "HTTPRoute", "GRPCRoute"),
    "gateway.k8s.aws/v1": (
        "TargetGroupConfiguration",
        "LoadBalancerConfiguration",
        "ListenerRuleConfiguration",
    ),
}


def controller_flags(deployment: dict[str, Any]) -> dict[str, str]:
    """The controller container's `--flag=value` arguments."""
    flags: dict[str, str] = {}
    for container in deployment["spec"]["template"]["spec"].get("containers") or []:
        for arg in container.get("args") or []:
            key, _, value = str(arg).lstrip("-").partition("=")
            flags[key] = value
    return flags


def feature_gates(flags: dict[str, str]) -> dict[str, bool]:
    """The gates set by `--feature-gates` (name -> value)."""
    gates = {}
    for item in flags.get("feature-gates", "").split(","):
        name, _, value = item.partition("=")
        if name.strip():
            gates[name.strip()] = value.strip().lower() == "true"
    return gates


def _major(deployment: dict[str, Any]) -> int:
    for container in deployment["spec"]["template"]["spec"].get("containers") or []:
        image = str(container.get("image", ""))
        if "aws-load-balancer-controller" in image and ":v" in image:
            try:
                return int(image.rsplit(":v", 1)[1].split(".")[0])
            except ValueError:
                return 0
    return 0


class GatewayGate:
    """The gate of the running controller: decided at each start of its Deployment."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._started: tuple[Any, ...] | None = None
        self._enabled = False

    def enabled(self, deployment: dict[str, Any], flags: dict[str, str]) -> bool:
        meta = deployment["metadata"]
        start = (meta.get("uid"), meta.get("generation"))
        if start != self._started:
            self._started = start
            self._enabled = self._decide(deployment, flags)
            log.info("ALB controller stand-in: ALB Gateway controller %s",
                     "on" if self._enabled else "off")  # fmt: skip
        return self._enabled

    def _decide(self, deployment: dict[str, Any], flags: dict[str, str]) -> bool:
        gates = feature_gates(flags)
        if _major(deployment) < 3:
            return gates.get("ALBGatewayAPI", False) and not self.missing()
        wanted = gates.get("ALBGatewayAPI", True)
        if wanted and any(gate not in gates for gate in GATES):
            missing = self.missing()
            if missing:
                log.info("Disabling ALBGatewayAPI: missing required CRDs %s", missing)
                return False
        # All three set: no detection; without the CRDs its watches could not start.
        return wanted and not self.missing()

    def missing(self) -> list[str]:
        self._cluster.invalidate_discovery()
        missing = []
        for api_version, kinds in NEEDED.items():
            for kind in kinds:
                try:
                    self._cluster.api(api_version, kind)
                except ResourceNotFoundError:
                    missing.append(kind)
        return missing
