"""The Ingress: preflight errors, apply, waiting for the ALB address, drift fields, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from core import naming
from core.endoflife import EndOfLife
from core.errors import OwnershipError, PreflightError, WaitTimeout
from core.kubestate import ingress_fields
from core.spec import parse_spec
from sandbox.kube.server import KubeApiServer
from tasks import endoflife
from tasks.aws.clients import AwsContext
from tasks.endoflife import delete_front_door
from tasks.k8s.clients import KubeTarget
from tasks.k8s.ingress import (
    ensure_ingress,
    observe_ingress,
    preflight_kubernetes,
    wait_for_ingress_address,
)
from tests.tasks.k8s.ingress_fixture import desired_ingress

STACK = "platform-example-com"
CERT = "arn:aws:acm:us-west-2:111122223333:certificate/0123"
SPEC = parse_spec({
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {"rootDomain": {"name": "example.com"}, "subDomain": {"name": "platform.example.com"}},
})  # fmt: skip
#: Deleting the Ingress reads AWS only once it stays terminating (to say why).
CTX = AwsContext(region="us-west-2")


def desired(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "stack": STACK,
        "certificate_arns": (CERT,),
        "scheme": "internet-facing",
        "tags": naming.ownership_tags(STACK),
    }
    values.update(overrides)
    result: dict[str, Any] = desired_ingress(**values)
    return result


def warning_event(
    name: str, reason: str, message: str, *, about: str = "istio-ingress"
) -> dict[str, Any]:
    """A Warning Event as the ALB controller's event recorder writes it."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "istio-system"},
        "involvedObject": {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "name": about,
            "namespace": "istio-system",
        },
        "type": "Warning",
        "reason": reason,
        "message": message,
        "count": 3,
        "lastTimestamp": "2026-11-26T10:00:00Z",
        "source": {"component": "ingress"},
    }


def set_address(server: KubeApiServer, hostname: str) -> None:
    live = server.store.get("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")
    live["status"] = {"loadBalancer": {"ingress": [{"hostname": hostname}]}}
    server.store.update_status(live, field_manager="alb-controller")


def test_preflight_finds_the_api_and_the_gateway(
    target: KubeTarget, kube_server: KubeApiServer
) -> None:
    access = preflight_kubernetes.fn(target)
    assert access.server == kube_server.url
    assert access.version.startswith("v1.")


def test_preflight_names_an_unreachable_server(
    target: KubeTarget, kube_server: KubeApiServer
) -> None:
    url = kube_server.url
    kube_server.stop()
    with pytest.raises(PreflightError, match=f"Kubernetes API at {url} .* is not reachable"):
        preflight_kubernetes.fn(target)


def test_preflight_without_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    with pytest.raises(PreflightError, match="No kubeconfig at"):
        preflight_kubernetes.fn(KubeTarget.kubeconfig())


def test_preflight_with_an_unknown_context(target: KubeTarget) -> None:
    with pytest.raises(PreflightError, match="context"):
        preflight_kubernetes.fn(KubeTarget.kubeconfig("nope"))


def test_preflight_without_istio(target: KubeTarget, kube_server: KubeApiServer) -> None:
    kube_server.store.delete("v1", "Service", "istio-ingressgateway", "istio-system")
    with pytest.raises(
        PreflightError, match="Service istio-system/istio-ingressgateway does not exist"
    ):
        preflight_kubernetes.fn(target)
    kube_server.store.delete("v1", "Namespace", "istio-system")
    # The namespace stays Terminating until the namespace controller has emptied it.
    kube_server.gc.delay = 0
    while kube_server.gc.collect():
        pass
    with pytest.raises(PreflightError, match="Namespace istio-system does not exist"):
        preflight_kubernetes.fn(target)


def test_apply_then_rerun_is_unchanged_and_observed_fields_match(target: KubeTarget) -> None:
    ingress = desired()
    assert ensure_ingress.fn(target, ingress, stack=STACK).action == "created"
    again = ensure_ingress.fn(target, ingress, stack=STACK)
    assert again.action == "unchanged"
    assert again.state.owned_by(STACK)
    observed = observe_ingress.fn(target)
    assert observed is not None
    assert observed.fields == ingress_fields(ingress)
    assert observed.hostname is None
    changed = ensure_ingress.fn(target, desired(scheme="internal"), stack=STACK)
    assert changed.action == "changed"
    assert changed.state.annotations["alb.ingress.kubernetes.io/scheme"] == "internal"


def test_an_ingress_of_someone_else_is_not_overwritten(target: KubeTarget, seed: Any) -> None:
    theirs = desired()
    del theirs["metadata"]["labels"]
    seed(theirs)
    with pytest.raises(OwnershipError, match="Ingress istio-system/istio-ingress"):
        ensure_ingress.fn(target, desired(), stack=STACK)
    with pytest.raises(OwnershipError, match="not deleting it"):
        delete_front_door.fn(CTX, target, SPEC)


def test_wait_returns_the_alb_hostname(target: KubeTarget, kube_server: KubeApiServer) -> None:
    ensure_ingress.fn(target, desired(), stack=STACK)
    set_address(kube_server, "k8s-istiosys-istioing-0123.us-west-2.elb.amazonaws.com")
    state = wait_for_ingress_address.fn(target)
    assert state.hostname == "k8s-istiosys-istioing-0123.us-west-2.elb.amazonaws.com"


def test_wait_timeout_shows_the_controllers_warning_events(
    target: KubeTarget, seed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFALB_INGRESS_TIMEOUT_SECONDS", "0.2")
    ensure_ingress.fn(target, desired(), stack=STACK)
    seed(
        warning_event(
            "istio-ingress.1",
            "FailedDeployModel",
            "AccessDenied: elasticloadbalancing:CreateLoadBalancer",
        )
    )
    seed(warning_event("gw.1", "Unrelated", "about another Ingress", about="other"))
    with pytest.raises(WaitTimeout) as raised:
        wait_for_ingress_address.fn(target)
    message = str(raised.value)
    assert "ALB address on Ingress istio-system/istio-ingress" in message
    assert (
        "FailedDeployModel: AccessDenied: elasticloadbalancing:CreateLoadBalancer (x3)" in message
    )
    assert "about another Ingress" not in message


def test_wait_timeout_without_events_hints_at_the_controller(
    target: KubeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFALB_INGRESS_TIMEOUT_SECONDS", "0.1")
    ensure_ingress.fn(target, desired(), stack=STACK)
    with pytest.raises(WaitTimeout, match="is an ALB controller running"):
        wait_for_ingress_address.fn(target)


def test_delete_waits_for_the_controllers_finalizer(
    target: KubeTarget, kube_server: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFALB_CLEANUP_TIMEOUT_SECONDS", "0.2")
    # The controller says nothing and nothing in AWS holds it: no cause, the wait runs out.
    monkeypatch.setattr(endoflife, "look_at_end_of_life", lambda *_: EndOfLife(ingress="x"))
    ingress = desired()
    ingress["metadata"]["finalizers"] = ["ingress.k8s.aws/resources"]
    ensure_ingress.fn(target, ingress, stack=STACK)
    with pytest.raises(
        WaitTimeout, match=r"being deleted, finalizers \['ingress.k8s.aws/resources'\]"
    ):
        delete_front_door.fn(CTX, target, SPEC)
    live = kube_server.store.get("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")
    live["metadata"]["finalizers"] = []
    kube_server.store.update(live, field_manager="alb-controller")  # the controller is done
    assert observe_ingress.fn(target) is None
    assert delete_front_door.fn(CTX, target, SPEC) is False


def test_delete_of_our_ingress(target: KubeTarget) -> None:
    ensure_ingress.fn(target, desired(), stack=STACK)
    assert delete_front_door.fn(CTX, target, SPEC) is True
    assert observe_ingress.fn(target) is None
