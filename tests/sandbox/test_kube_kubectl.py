"""The Kubernetes stand-in through real kubectl: get, create, apply (-f, -k, server-side), diff, wait."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.kube import KubeApiServer, seed_kubeflow_cluster

KUBECTL = Path(sys.executable).parent / "kubectl"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(deployment_ready_delay=0.2) as running:
        seed_kubeflow_cluster(running)
        yield running


@pytest.fixture(scope="module")
def kubectl(server: KubeApiServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    home = tmp_path_factory.mktemp("kubectl-home")
    kubeconfig = server.write_kubeconfig(home / "config")
    env = {
        "KUBECONFIG": str(kubeconfig),
        "HOME": str(home),
        "KUBECACHEDIR": str(home / "cache"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),  # kubectl diff runs `diff`
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    return run


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _app(directory: Path, namespace: str, *, value: str = "1") -> Path:
    _write(
        directory / "00-namespace.yaml",
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n",
    )
    _write(
        directory / "app.yaml",
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web, namespace: {namespace}, labels: {{app: web}}}}
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers:
              - name: web
                image: nginx:1.27
                ports: [{{containerPort: 8080}}]
                env: [{{name: MODE, value: "{value}"}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: web, namespace: {namespace}}}
        spec:
          selector: {{app: web}}
          ports: [{{name: http, port: 80, targetPort: 8080}}]
        """,
    )
    return directory


def test_get_and_typed_create(kubectl: Kubectl, server: KubeApiServer) -> None:
    names = kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/istio-system" in names
    # `kubectl create namespace|configmap|secret` send protobuf bodies.
    kubectl("create", "namespace", "typed")
    kubectl("create", "configmap", "settings", "-n", "typed", "--from-literal=mode=demo")
    kubectl("create", "secret", "generic", "creds", "-n", "typed", "--from-literal=token=abc")
    phase = kubectl("get", "namespace", "typed", "-o", "jsonpath={.status.phase}").stdout
    assert phase == "Active"
    assert server.store.get("v1", "ConfigMap", "settings", "typed")["data"] == {"mode": "demo"}
    assert server.store.get("v1", "Secret", "creds", "typed")["data"] == {"token": "YWJj"}


def test_get_prints_server_side_columns(kubectl: Kubectl) -> None:
    namespaces = kubectl("get", "namespaces").stdout.splitlines()
    assert namespaces[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["kubeflow", "Active"] for line in namespaces[1:])
    kubectl(
        "wait",
        "--for=jsonpath={.status.readyReplicas}=1",
        "deployment/istio-ingressgateway",
        "-n",
        "istio-system",
        "--timeout=20s",
    )
    gateway = kubectl("get", "deployment", "-n", "istio-system").stdout.splitlines()
    assert gateway[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert gateway[1].split()[:2] == ["istio-ingressgateway", "1/1"]


def test_not_found_reads_like_a_real_server(kubectl: Kubectl) -> None:
    result = kubectl("get", "configmap", "missing", "-n", "default", check=False)
    assert result.returncode == 1
    assert 'Error from server (NotFound): configmaps "missing" not found' in result.stderr


def test_apply_directory_unchanged_diff_and_delete(kubectl: Kubectl, tmp_path: Path) -> None:
    manifests = _app(tmp_path / "m", "plain")
    assert "deployment.apps/web created" in kubectl("apply", "-f", str(manifests)).stdout
    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", str(manifests)).stdout
    assert kubectl("diff", "-f", str(manifests), check=False).returncode == 0
    _app(manifests, "plain", value="2")
    changed = kubectl("diff", "-f", str(manifests), check=False)
    assert changed.returncode == 1
    assert '+          value: "2"' in changed.stdout
    assert "deployment.apps/web configured" in kubectl("apply", "-f", str(manifests)).stdout
    assert kubectl("diff", "-f", str(manifests), check=False).returncode == 0
    kubectl("delete", "-f", str(manifests / "app.yaml"))
    gone = kubectl("get", "deployment", "web", "-n", "plain", check=False)
    assert "NotFound" in gone.stderr


def test_apply_kustomization(kubectl: Kubectl, server: KubeApiServer, tmp_path: Path) -> None:
    base = _app(tmp_path / "base", "kustomized")
    _write(
        base / "kustomization.yaml",
        """\
        resources: [00-namespace.yaml, app.yaml]
        labels:
        - pairs: {team: ml}
        configMapGenerator:
        - name: settings
          namespace: kustomized
          literals: [mode=demo]
        """,
    )
    kubectl("apply", "-k", str(base))
    deployment = server.store.get("apps/v1", "Deployment", "web", "kustomized")
    assert deployment["metadata"]["labels"]["team"] == "ml"
    (settings,) = server.store.list("v1", "ConfigMap", "kustomized")
    assert settings["metadata"]["name"].startswith("settings-")


def test_server_side_apply_twice_changes_nothing(
    kubectl: Kubectl, server: KubeApiServer, tmp_path: Path
) -> None:
    manifests = _app(tmp_path / "m", "ssa")
    kubectl("apply", "--server-side", "--field-manager=kfalb", "-f", str(manifests))
    kubectl(
        "wait",
        "--for=jsonpath={.status.readyReplicas}=1",
        "deployment/web",
        "-n",
        "ssa",
        "--timeout=20s",
    )
    before = server.store.get("apps/v1", "Deployment", "web", "ssa")
    kubectl("apply", "--server-side", "--field-manager=kfalb", "-f", str(manifests))
    after = server.store.get("apps/v1", "Deployment", "web", "ssa")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    managers = {e["manager"]: e["operation"] for e in after["metadata"]["managedFields"]}
    assert managers["kfalb"] == "Apply"
    _app(manifests, "ssa", value="2")
    kubectl("apply", "--server-side", "--field-manager=kfalb", "-f", str(manifests))
    env = server.store.get("apps/v1", "Deployment", "web", "ssa")["spec"]["template"]["spec"]
    assert env["containers"][0]["env"] == [{"name": "MODE", "value": "2"}]


def test_wait_for_ready_replicas_and_scale(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("apply", "-f", str(_app(tmp_path / "m", "waiting")))
    kubectl(
        "wait",
        "--for=jsonpath={.status.readyReplicas}=1",
        "deployment/web",
        "-n",
        "waiting",
        "--timeout=20s",
    )
    kubectl("scale", "deployment/web", "-n", "waiting", "--replicas=2")
    kubectl(
        "wait",
        "--for=jsonpath={.status.readyReplicas}=2",
        "deployment/web",
        "-n",
        "waiting",
        "--timeout=20s",
    )
    addresses = kubectl(
        "get", "endpoints", "web", "-n", "waiting", "-o", "jsonpath={.subsets[0].addresses[*].ip}"
    ).stdout.split()
    assert len(addresses) == 2


def test_crd_then_custom_resource(kubectl: Kubectl, server: KubeApiServer, tmp_path: Path) -> None:
    crd = _write(
        tmp_path / "crd.yaml",
        """\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: targetgroupbindings.elbv2.k8s.aws}
        spec:
          group: elbv2.k8s.aws
          scope: Namespaced
          names: {kind: TargetGroupBinding, plural: targetgroupbindings, shortNames: [tgb]}
          versions:
          - name: v1beta1
            served: true
            storage: true
            schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
            subresources: {status: {}}
        """,
    )
    binding = _write(
        tmp_path / "tgb.yaml",
        """\
        apiVersion: elbv2.k8s.aws/v1beta1
        kind: TargetGroupBinding
        metadata: {name: gateway, namespace: istio-system}
        spec:
          serviceRef: {name: istio-ingressgateway, port: 80}
          targetGroupARN: arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/kf/abc
        """,
    )
    kubectl("apply", "-f", str(crd))
    kubectl(
        "wait",
        "--for=condition=established",
        "crd/targetgroupbindings.elbv2.k8s.aws",
        "--timeout=10s",
    )
    assert "created" in kubectl("apply", "-f", str(binding)).stdout
    assert "unchanged" in kubectl("apply", "-f", str(binding)).stdout
    assert kubectl("get", "tgb", "-n", "istio-system", "-o", "name").stdout.strip() == (
        "targetgroupbinding.elbv2.k8s.aws/gateway"
    )
    kubectl("delete", "-f", str(crd))
    assert server.store.registry.by_kind("elbv2.k8s.aws/v1beta1", "TargetGroupBinding") is None
