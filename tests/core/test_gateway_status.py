"""Which Gateway API CRDs a cluster gets or keeps, and what a Gateway's status says."""

from __future__ import annotations

from typing import Any

import pytest

from core.gateway_crds import NEEDED, plan_gateway_crds, version_problem
from core.gateway_state import (
    RECONCILE_ERROR,
    FrontDoorState,
    gateway_state,
    judge,
    object_state,
    route_state,
)
from core.manifests import key

TOOL = {"app.kubernetes.io/managed-by": "kubeflow-alb", "kubeflow-alb/stack": "other-stack"}


def crd(plural: str, *, version: str | None = "v1.6.0", channel: str = "standard",
        labels: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    annotations = {"gateway.networking.k8s.io/channel": channel}
    if version is not None:
        annotations["gateway.networking.k8s.io/bundle-version"] = version
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.gateway.networking.k8s.io",
            "annotations": annotations,
            "labels": labels or {},
        },
    }


BUNDLED = [crd(p) for p in ("gatewayclasses", "gateways", "httproutes", "grpcroutes",
                            "referencegrants", "tcproutes")]  # fmt: skip


def plan(live: dict[str, dict[str, Any]]) -> Any:
    found = {key(obj): live.get(obj["metadata"]["name"].split(".")[0]) for obj in BUNDLED}
    return plan_gateway_crds(BUNDLED, found, controller="v3.5.0")


def test_a_cluster_without_gateway_api_gets_every_bundled_object() -> None:
    result = plan({})
    assert result.apply == tuple(BUNDLED)
    assert result.kept == ()
    assert result.problem is None


def test_fitting_crds_of_another_tool_are_kept_and_ours_reapplied() -> None:
    result = plan(
        {
            "gateways": crd("gateways", version="v1.6.1"),
            "httproutes": crd("httproutes", version="v1.7.0", channel="experimental"),
            "gatewayclasses": crd("gatewayclasses", labels=TOOL),
        }
    )
    assert result.problem is None
    assert result.kept == (
        "gateways.gateway.networking.k8s.io",
        "httproutes.gateway.networking.k8s.io",
    )
    applied = {obj["metadata"]["name"].split(".")[0] for obj in result.apply}
    assert applied == {"gatewayclasses", "grpcroutes", "referencegrants", "tcproutes"}


def test_an_older_crd_the_controller_needs_is_refused_with_the_reason() -> None:
    result = plan(
        {
            "httproutes": crd("httproutes", version="v1.4.0"),
            "gateways": crd("gateways", version=None),
            # Old, but the ALB controller does not read TCPRoutes: kept without a word.
            "tcproutes": crd("tcproutes", version="v1.2.0", channel="experimental"),
        }
    )
    assert result.problem is not None
    assert "AWS Load Balancer Controller v3.5.0 (built for Gateway API v1.6.0)" in result.problem
    assert (
        "httproutes.gateway.networking.k8s.io (standard channel) is Gateway API v1.4.0, older"
        in (result.problem)
    )
    assert "gateways.gateway.networking.k8s.io (standard channel) carries no" in result.problem
    assert "tcproutes" not in result.problem
    assert "releases/download/v1.6.0/standard-install.yaml" in result.problem
    assert "keep stack.frontDoor: ingress" in result.problem


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("v1.6.0", None),
        ("v1.12.3", None),
        ("v1.5.1", "older than v1.6.0"),
        ("v2.0.0", "another major version"),
        ("v1.6.0-rc.2", "pre-release"),
        ("1.6", "not a Gateway API release"),
        (None, "carries no"),
    ],
)
def test_versions(version: str | None, problem: str | None) -> None:
    found = version_problem(version)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_the_controller_needs_the_kinds_of_its_crd_detection() -> None:
    assert {"gateways", "gatewayclasses", "httproutes", "grpcroutes"} <= {
        name.split(".")[0] for name in NEEDED
    }


# -- status -----------------------------------------------------------------------------------

WAITING = {"type": "Accepted", "status": "Unknown", "reason": "Pending",
           "message": "Waiting for controller"}  # fmt: skip


def gateway(conditions: list[dict[str, Any]], *, address: str | None = None,
            generation: int = 1) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {"conditions": conditions}
    if address:
        status["addresses"] = [{"type": "Hostname", "value": address}]
    return {
        "kind": "Gateway",
        "metadata": {"name": "kf", "namespace": "istio-system", "generation": generation},
        "status": status,
    }


def condition(kind: str, status: str, reason: str, message: str = "", generation: int = 1
              ) -> dict[str, Any]:  # fmt: skip
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "observedGeneration": generation}  # fmt: skip


def door(live: dict[str, Any], *routes: dict[str, Any], klass: dict[str, Any] | None = None
         ) -> FrontDoorState:  # fmt: skip
    return FrontDoorState(
        gateway=gateway_state(live),
        routes=tuple(route_state(r) for r in routes),
        gateway_class=object_state(klass) if klass else None,
    )


ACCEPTED = condition("Accepted", "True", "Accepted")
ARN = "arn:aws:elasticloadbalancing:us-west-2:1:loadbalancer/app/k8s-istiosys-kf-0123456789/abc"


def test_ready_once_programmed_with_an_address() -> None:
    live = gateway([ACCEPTED, condition("Programmed", "True", "Programmed", ARN)], address="a.b")
    assert judge(door(live)).ready


def test_waiting_before_the_controller_and_while_the_alb_provisions() -> None:
    verdict = judge(door(gateway([WAITING])))
    assert not verdict.ready
    assert "no controller has taken it yet" in verdict.waiting
    assert "Waiting for controller" in verdict.waiting
    pending = condition(
        "Programmed", "Unknown", "Pending", "Waiting for load balancer to be active."
    )
    verdict = judge(door(gateway([ACCEPTED, pending], address="a.b")))
    assert verdict.failure is None
    assert "Waiting for load balancer to be active." in verdict.waiting


def test_conditions_of_an_older_generation_say_nothing() -> None:
    live = gateway(
        [ACCEPTED, condition("Programmed", "True", "Programmed", ARN)], address="a", generation=2
    )
    verdict = judge(door(live))
    assert not verdict.ready
    assert "has not seen generation 2" in verdict.waiting


def test_a_configuration_error_is_a_failure_naming_reason_and_message() -> None:
    missing = 'loadbalancerconfigurations.gateway.k8s.aws "kf" not found'
    verdict = judge(door(gateway([condition("Accepted", "False", "Invalid", missing)])))
    assert verdict.failure == f"Gateway istio-system/kf: Accepted=False (Invalid: {missing})"


def test_a_build_or_deploy_error_is_retried_by_the_controller() -> None:
    live = gateway(
        [
            condition("Accepted", "False", "Invalid", RECONCILE_ERROR),
            condition("Programmed", "False", "Programmed", RECONCILE_ERROR),
        ]
    )
    verdict = judge(door(live))
    assert verdict.failure is None
    assert (
        verdict.retrying == f"Gateway istio-system/kf: Accepted=False (Invalid: {RECONCILE_ERROR})"
    )


def test_a_route_that_cannot_resolve_its_backend_fails() -> None:
    route = {
        "kind": "HTTPRoute",
        "metadata": {"name": "kf", "namespace": "istio-system", "generation": 1},
        "status": {
            "parents": [
                {
                    "parentRef": {"name": "kf", "sectionName": "https"},
                    "controllerName": "gateway.k8s.aws/alb",
                    "conditions": [
                        condition(
                            "ResolvedRefs",
                            "False",
                            "BackendNotFound",
                            "Service (istio-system:istio-ingressgateway) not found)",
                        ),
                        condition("Accepted", "True", "Accepted"),
                    ],  # fmt: skip
                }
            ]
        },
    }
    live = gateway([ACCEPTED, condition("Programmed", "True", "Programmed", ARN)], address="a")
    verdict = judge(door(live, route))
    assert verdict.failure == (
        "HTTPRoute istio-system/kf (parent kf/https): ResolvedRefs=False (BackendNotFound: "
        "Service (istio-system:istio-ingressgateway) not found))"
    )


def test_a_refused_gateway_class_fails() -> None:
    klass = {
        "kind": "GatewayClass",
        "metadata": {"name": "kubeflow-alb", "generation": 1},
        "status": {"conditions": [condition("Accepted", "False", "InvalidParametersRef",
                   "Namespace must be specified in ParametersRef for LoadBalancerConfiguration")]},
    }  # fmt: skip
    verdict = judge(door(gateway([WAITING]), klass=klass))
    assert verdict.failure is not None
    assert verdict.failure.startswith(
        "GatewayClass kubeflow-alb: Accepted=False (InvalidParametersRef"
    )
