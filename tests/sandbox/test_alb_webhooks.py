"""The ALB controller stand-in's webhooks: served over HTTPS with the flow's certificate, through
the API server, to real kubectl; and held back, as between a ready Deployment and a serving one."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.controller_versions import DEFAULT_CONTROLLER_VERSION
from core.waiting import wait_until
from sandbox.albcontroller import webhooks
from sandbox.albcontroller.webhooks import AlbWebhookServer
from sandbox.kube import KubeApiServer, seed_kubeflow_cluster
from tasks.k8s import webhook_tls

BUNDLES = Path(__file__).parents[2] / "deployments" / "aws-load-balancer-controller"
KUBECTL = Path(sys.executable).parent / "kubectl"
INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: istio-system, labels: {try: "%s"}}
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: istio-ingressgateway, port: {number: 80}}}
"""
REFUSED = (
    'Internal error occurred: failed calling webhook "vingress.elbv2.k8s.aws": failed to call '
    'webhook: Post "https://aws-load-balancer-webhook-service.kube-system.svc:443/'
    'validate-networking-v1-ingress?timeout=10s": dial tcp 127.0.0.1:9443: connect: '
    "connection refused"
)


def _bundled(name: str, version: str = DEFAULT_CONTROLLER_VERSION) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((BUNDLES / version / name).read_text()) if doc]


def _install(
    server: KubeApiServer,
    *,
    ca_pem: bytes | None = None,
    version: str = DEFAULT_CONTROLLER_VERSION,
) -> None:
    """What the flow's install leaves: TLS Secret, Service, webhooks with the caBundle, Deployment."""
    tls = webhook_tls.generate()
    store = server.store
    store.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": webhooks.SECRET, "namespace": "kube-system"},
            "type": "kubernetes.io/tls",
            "data": {
                key: base64.b64encode(value).decode()
                for key, value in (
                    ("ca.crt", tls.ca_pem),
                    ("tls.crt", tls.cert_pem),
                    ("tls.key", tls.key_pem),
                )
            },
        }
    )
    bundle = base64.b64encode(ca_pem or tls.ca_pem).decode()
    for config in _bundled("webhooks.yaml", version):
        for hook in config["webhooks"]:
            hook["clientConfig"]["caBundle"] = bundle
        store.apply(config)
    for name in ("service.yaml", "serviceaccount.yaml", "deployment.yaml"):
        for obj in _bundled(name, version):
            store.apply(obj)
    _wait_for_endpoints(server, present=True)


def _wait_for_endpoints(server: KubeApiServer, *, present: bool) -> None:
    store = server.store
    wait_until(
        lambda: store.find("v1", "Endpoints", "aws-load-balancer-webhook-service", "kube-system"),
        lambda endpoints: bool((endpoints or {}).get("subsets")) == present,
        what="webhook endpoints",
        timeout=10,
        interval=0.02,
    )


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(deployment_ready_delay=0.02) as running:
        seed_kubeflow_cluster(running)
        yield running


@pytest.fixture
def hooks(server: KubeApiServer) -> Iterator[AlbWebhookServer]:
    serving = AlbWebhookServer().attach(server.store)
    yield serving
    serving.stop()


@pytest.fixture
def kubectl(server: KubeApiServer, tmp_path: Path) -> Any:
    kubeconfig = server.write_kubeconfig(tmp_path / "config")
    env = {
        "KUBECONFIG": str(kubeconfig),
        "HOME": str(tmp_path),
        "KUBECACHEDIR": str(tmp_path / "cache"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }

    def apply(attempt: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), "apply", "-f", "-"],
            input=INGRESS % attempt,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return apply


@pytest.mark.parametrize(("version", "review"), [("v2.17.1", "admission.k8s.io/v1beta1"),
                                                 ("v3.5.0", "admission.k8s.io/v1")])  # fmt: skip
def test_kubectl_applies_an_ingress_through_the_controllers_validating_webhook(
    server: KubeApiServer, hooks: AlbWebhookServer, kubectl: Any, version: str, review: str
) -> None:
    _install(server, version=version)
    result = kubectl("1")
    assert result.returncode == 0, result.stderr
    assert ("/validate-networking-v1-ingress", "CREATE") in hooks.reviewed
    # The API server speaks the version each configuration lists, and reads the answer in it.
    assert set(hooks.review_versions) == {review}
    assert "unchanged" in kubectl("1").stdout  # kubectl sends nothing: nothing to review
    server.store.mutate_object(  # the controller's finalizer patch
        server.store.resource_type("networking.k8s.io/v1", "Ingress"),
        "istio-system",
        "web",
        lambda live: {**live, "metadata": {**live["metadata"], "finalizers": ["f.example/x"]}},
        manager="controller",
    )
    updates = [op for path, op in hooks.reviewed if path == "/validate-networking-v1-ingress"]
    assert updates == ["CREATE", "UPDATE"]


def test_a_ready_controller_whose_webhook_does_not_answer_refuses_ingress_writes(
    server: KubeApiServer, hooks: AlbWebhookServer, kubectl: Any
) -> None:
    _install(server)
    hooks.set_answering(False)
    result = kubectl("1")
    assert result.returncode == 1
    assert "Error from server (InternalError)" in result.stderr
    assert REFUSED in result.stderr
    hooks.set_answering(True, after=3600)  # answers only an hour after becoming ready
    assert REFUSED in kubectl("2").stderr
    hooks.set_answering(True, after=0)
    assert kubectl("3").returncode == 0


def test_webhooks_answer_only_while_the_controller_deployment_is_ready(
    server: KubeApiServer, hooks: AlbWebhookServer, kubectl: Any
) -> None:
    _install(server)
    server.store.delete("apps/v1", "Deployment", webhooks.DEPLOYMENT, "kube-system")
    assert hooks.address() is None
    _wait_for_endpoints(server, present=False)
    assert (
        'failed to call webhook: Post "https://aws-load-balancer-webhook-service.kube-system.svc:443/'
        'validate-networking-v1-ingress?timeout=10s": no endpoints available for service '
        '"aws-load-balancer-webhook-service"'
    ) in kubectl("1").stderr


def test_a_ca_bundle_from_another_ca_fails_certificate_verification(
    server: KubeApiServer, hooks: AlbWebhookServer, kubectl: Any
) -> None:
    _install(server, ca_pem=webhook_tls.generate().ca_pem)
    result = kubectl("1")
    assert result.returncode == 1
    assert (
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        in result.stderr
    )


def test_target_group_bindings_are_defaulted_and_their_target_group_is_immutable() -> None:
    binding = {"spec": {"targetGroupARN": "arn:tg/1", "targetType": "ip"}}
    mutated = webhooks.mutate_target_group_binding({"operation": "CREATE", "object": binding})
    patch = yaml.safe_load(base64.b64decode(mutated["patch"]))
    assert patch == [{"op": "add", "path": "/spec/ipAddressType", "value": "ipv4"}]
    changed = {"spec": {"targetGroupARN": "arn:tg/2", "targetType": "ip"}}
    verdict = webhooks.validate_target_group_binding(
        {"operation": "UPDATE", "object": changed, "oldObject": binding}
    )
    assert verdict["allowed"] is False
    assert verdict["status"]["message"] == (
        "TargetGroupBinding update may not change these fields: spec.targetGroupARN"
    )
