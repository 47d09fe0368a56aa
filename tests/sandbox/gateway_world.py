"""Helpers for the Gateway tests of the ALB controller stand-in: a world with the Gateway API
CRDs (applied by real kubectl), a v3.5.0 controller, and kubeflow-alb's Gateway objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from core.gateway import configure_gateway, gateway_params
from core.spec import StackSpec, parse_spec
from sandbox.world import World, WorldOptions
from tests.sandbox.alb_world import NAME, eventually, store

DEPLOYMENTS = Path(__file__).parents[2] / "deployments"
CRDS = (
    DEPLOYMENTS / "gateway-api" / "v1.6.0" / "standard-install.yaml",
    DEPLOYMENTS / "aws-load-balancer-controller" / "v3.5.0" / "gateway-crds.yaml",
)
IMAGE = f"public.ecr.aws/eks/{NAME}:v3.5.0"
#: The bundled v3.5.0 Deployment's gates: ALBGatewayAPI left to the CRD detection.
BUNDLED_GATES = "--feature-gates=NLBGatewayAPI=false,GatewayListenerSet=false"
GATEWAY = ("gateway.networking.k8s.io/v1", "Gateway")
ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
CLASS = ("gateway.networking.k8s.io/v1", "GatewayClass")
LBC = ("gateway.k8s.aws/v1", "LoadBalancerConfiguration")
TGC = ("gateway.k8s.aws/v1", "TargetGroupConfiguration")


def start_world(directory: Path, account_id: str, *, alb_delay: float = 0.3) -> World:
    """A world whose own stand-in is stopped (tests drive theirs); ALBs turn active quickly."""
    options = WorldOptions(
        account_id=account_id,
        alb_delay=alb_delay,
        acm_delay=0.0,
        dns_delay=0.0,
        deployment_ready_delay=0.05,
        poll_interval=0.05,
    )
    world = World(directory, options)
    world.start()
    assert world.controller is not None
    world.controller.stop()
    return world


def kubectl(world: World, *args: str, stdin: str | None = None) -> str:
    """Real kubectl against the world's API server; fails the test on an error."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={"KUBECONFIG": world.env["KUBECONFIG"], "KUBECACHEDIR": world.env["KUBECACHEDIR"]},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def install_crds(world: World) -> None:
    for path in CRDS:
        kubectl(world, "apply", "--server-side", "-f", str(path))
    kubectl(world, "wait", "--for=condition=Established", "--timeout=20s", "crd", "--all")


def controller_deployment(world: World, *args: str) -> dict[str, Any]:
    """A v3.5.0 controller Deployment (ready); a second call with other args is a rollout."""
    labels = {"app.kubernetes.io/name": NAME}
    # The container name of a Helm install (and of alb_world's): this replaces its image.
    container = {"name": "controller", "image": IMAGE, "args": ["--cluster-name=kubeflow", *args]}
    kube = store(world)
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": NAME, "namespace": "kube-system"}})  # fmt: skip
    kube.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"serviceAccountName": NAME, "containers": [container]},
                },
            },
        }
    )
    return eventually(
        lambda: (
            found
            if (
                (found := kube.get("apps/v1", "Deployment", NAME, "kube-system")).get("status")
                or {}
            ).get("readyReplicas")
            else None
        )
    )


def spec(subdomain: str, **stack: Any) -> StackSpec:
    return parse_spec(
        {
            "cluster": {"name": "kubeflow", "region": "us-west-2"},
            "route53": {
                "rootDomain": {"name": "example.com"},
                "subDomain": {"name": subdomain},
            },
            "kubeflow": {"alb": stack.pop("alb", {})},
            "stack": {"frontDoor": "gateway", **stack},
        }
    )


def gateway_objects(
    stack_spec: StackSpec, certificates: tuple[str, ...], **params: Any
) -> list[dict[str, Any]]:
    """kubeflow-alb's Gateway objects for this spec, from the bundled kustomize base."""
    rendered = kubectl_render()
    return configure_gateway(rendered, gateway_params(stack_spec, certificates, **params))


def kubectl_render() -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), "kustomize", str(DEPLOYMENTS / "gateway")],
        capture_output=True,
        text=True,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def apply(world: World, objects: list[dict[str, Any]]) -> str:
    """`kubectl apply --server-side` of the objects, as a user or the flow would."""
    return kubectl(
        world, "apply", "--server-side", "--field-manager=kubeflow-alb", "-f", "-",
        stdin=yaml.safe_dump_all(objects),
    )  # fmt: skip


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}
