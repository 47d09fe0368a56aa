"""Helpers for the ALB controller stand-in tests: a world, namespaces, Ingresses, controllers."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sandbox.alb_controller import AUTO_MODE_CONTROLLER, HELM_CONTROLLER, AlbControllerStandIn
from sandbox.albcontroller import deploy
from sandbox.albcontroller.access import UNRESTRICTED
from sandbox.ca import SandboxCA
from sandbox.kube.store import ObjectStore
from sandbox.world import World, WorldOptions

A = "alb.ingress.kubernetes.io/"
NAME = "aws-load-balancer-controller"
IMAGE = f"public.ecr.aws/eks/{NAME}:v2.17.1"
POLICY = Path(__file__).parents[2] / "deployments" / NAME / "v2.17.1" / "iam-policy.json"
INGRESS = ("networking.k8s.io/v1", "Ingress")
T = TypeVar("T")


def start_world(directory: Path, account_id: str) -> World:
    """A world whose own stand-in is stopped (tests drive theirs), with both ALB classes.

    Its ALBs stay `provisioning`: AWS takes minutes, and nothing here waits for them.
    """
    options = WorldOptions(
        account_id=account_id,
        alb_delay=3600,
        acm_delay=0.0,
        dns_delay=0.0,
        deployment_ready_delay=0.05,
        poll_interval=0.05,
    )
    world = World(directory, options)
    world.start()
    assert world.controller is not None
    world.controller.stop()
    for name, controller in (("alb", HELM_CONTROLLER), ("alb-auto", AUTO_MODE_CONTROLLER)):
        store(world).apply(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": name},
                "spec": {"controller": controller},
            }
        )
    return world


def store(world: World) -> ObjectStore:
    assert world.kube is not None
    return world.kube.store


def admin(world: World) -> deploy.Aws:
    assert world.aws is not None
    clients = {"elbv2": world.aws.client("elbv2"), "ec2": world.aws.client("ec2")}
    return deploy.Aws(clients, UNRESTRICTED)


def new_namespace(world: World, test_name: str) -> str:
    """A namespace named after the test, with a NodePort Service `web` (port 80 -> 8080)."""
    digest = hashlib.sha1(test_name.encode()).hexdigest()[:8]
    name = re.sub(r"[^a-z0-9]+", "-", test_name.lower())[:40].strip("-") + "-" + digest
    store(world).apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    store(world).apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": name},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        }
    )
    return name


def clean_up(world: World, namespace: str) -> None:
    """Forget the namespace's Ingresses and their AWS stacks, and any controller Deployment."""
    kube = store(world)
    for ingress in kube.list(*INGRESS, namespace):
        name = ingress["metadata"]["name"]
        ingress["metadata"]["finalizers"] = []
        kube.update(ingress)
        kube.delete(*INGRESS, name, namespace)
        deploy.delete_stack(admin(world), cluster="kubeflow", stack_id=f"{namespace}/{name}")
    kube.delete("apps/v1", "Deployment", NAME, "kube-system")
    kube.delete("v1", "ServiceAccount", NAME, "kube-system")


def stand_in(world: World, mode: str) -> AlbControllerStandIn:
    assert world.aws is not None
    return AlbControllerStandIn(
        kubeconfig=world.env["KUBECONFIG"],
        aws_env=world.aws.env(),
        cluster_name="kubeflow",
        mode=mode,
        interval=0.02,
        max_backoff=0.1,
    )


def issued_certificate(world: World, name: str) -> str:
    """An imported certificate: ISSUED at once."""
    assert world.aws is not None
    ca = SandboxCA()
    cert, key = ca.issue([name])
    imported = world.aws.client("acm").import_certificate(
        Certificate=cert.encode(), PrivateKey=key.encode(), CertificateChain=ca.cert_pem.encode()
    )
    return str(imported["CertificateArn"])


def make_ingress(
    world: World, namespace: str, *, ingress_class: str = "alb", **annotations: str
) -> dict[str, Any]:
    """Ingress `app` for Service `web`, with the project's listener annotations plus these."""
    every = {
        A + "scheme": "internet-facing",
        A + "target-type": "ip",
        A + "listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
        A + "ssl-redirect": "443",
        A + "tags": "kubeflow-alb/stack=demo,team=ml",
        **{A + key.replace("_", "-"): value for key, value in annotations.items()},
    }
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}},
    }
    return store(world).apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "app", "namespace": namespace, "annotations": every},
            "spec": {"ingressClassName": ingress_class, "rules": [{"http": {"paths": [path]}}]},
        },
        field_manager="test",
    )


def controller_deployment(
    world: World, *, role_arn: str | None = None, args: tuple[str, ...] = ()
) -> None:
    """A controller Deployment and its service account in kube-system; waits until it is ready."""
    kube = store(world)
    annotations = {"eks.amazonaws.com/role-arn": role_arn} if role_arn else {}
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": "kube-system", "annotations": annotations},
        }
    )
    labels = {"app.kubernetes.io/name": NAME}
    container = {"name": "controller", "image": IMAGE, "args": ["--cluster-name=kubeflow", *args]}
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
    eventually(
        lambda: (kube.get("apps/v1", "Deployment", NAME, "kube-system").get("status") or {}).get(
            "readyReplicas"
        )
    )


def eventually(check: Callable[[], T], timeout: float = 20.0) -> T:
    """Poll `check` until it returns something truthy (a bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s")


def events(world: World, namespace: str) -> list[tuple[str, str, str, int]]:
    return [
        (e["type"], e["reason"], e["message"], int(e.get("count", 1)))
        for e in store(world).list("v1", "Event", namespace)
    ]


def warnings(world: World, namespace: str) -> list[str]:
    return [
        f"{reason}: {text}"
        for kind, reason, text, _ in events(world, namespace)
        if kind == "Warning"
    ]


def stack(world: World, namespace: str) -> deploy.Found:
    return deploy.find_stack(admin(world), cluster="kubeflow", stack_id=f"{namespace}/app")


def get_ingress(world: World, namespace: str) -> dict[str, Any] | None:
    return store(world).find(*INGRESS, "app", namespace)


def hostname(world: World, namespace: str) -> str | None:
    ingress = get_ingress(world, namespace) or {}
    entries = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return str(entries[0]["hostname"]) if entries else None
