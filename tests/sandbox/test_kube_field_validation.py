"""Unknown fields and invalid objects through real kubectl and raw HTTP, as kube-apiserver answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.controller_versions import BUNDLED_VERSIONS
from sandbox.kube import KubeApiServer, seed_kubeflow_cluster

KUBECTL = Path(sys.executable).parent / "kubectl"
DEPLOYMENTS = Path(__file__).resolve().parents[2] / "deployments"
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
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=60, input=stdin
        )

    return run


def _send(
    server: KubeApiServer, method: str, path: str, body: dict[str, Any], content_type: str
) -> tuple[int, dict[str, Any], list[str]]:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": content_type, "Authorization": "Bearer sandbox-token"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), response.headers.get_all("Warning") or []
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers.get_all("Warning") or []


def _configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"a": "b"},
        **extra,
    }


def test_strict_refuses_unknown_fields_with_400(server: KubeApiServer) -> None:
    code, body, _ = _send(
        server,
        "POST",
        "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
        _configmap("strict", spec={"foo": 1}),
        "application/json",
    )
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        'strict decoding error: unknown field "spec"'
    )


def test_warn_is_the_default_and_drops_the_field(server: KubeApiServer) -> None:
    body = _configmap("warned")
    body["metadata"]["bogus"] = "x"
    code, created, warnings = _send(
        server, "POST", "/api/v1/namespaces/default/configmaps", body, "application/json"
    )
    assert code == 201
    assert warnings == ['299 - "unknown field \\"metadata.bogus\\""']
    assert "bogus" not in created["metadata"]


def test_ignore_drops_unknown_fields_silently(server: KubeApiServer) -> None:
    code, created, warnings = _send(
        server,
        "POST",
        "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore",
        _configmap("ignored", extra=True),
        "application/json",
    )
    assert (code, warnings) == (201, [])
    assert "extra" not in created


def test_nested_unknown_fields_are_named_by_path(server: KubeApiServer) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nested", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "nested"}},
            "template": {
                "metadata": {"labels": {"app": "nested"}},
                "spec": {"containers": [{"name": "c", "image": "i:1", "imagePolicy": "x"}]},
            },
        },
    }
    code, body, _ = _send(
        server,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/nested?fieldManager=t&fieldValidation=Strict",
        deployment,
        "application/apply-patch+yaml",
    )
    assert code == 400
    assert body["message"] == (
        "failed to create typed patch object (default/nested; apps/v1, Kind=Deployment): "
        ".spec.template.spec.containers[0].imagePolicy: field not declared in schema"
    )


def test_kubectl_apply_shows_the_real_validation_error(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "ingress.yaml"
    manifest.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
        "metadata: {name: bad, namespace: default}\n"
        "spec:\n  rules:\n  - http:\n      paths:\n      - path: foo\n        pathType: Prefix\n"
        "        backend: {service: {name: web, port: {number: 80}}}\n"
    )
    result = kubectl("apply", "-f", str(manifest))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'The Ingress "bad" is invalid: spec.rules[0].http.paths[0].path: '
        'Invalid value: "foo": must be an absolute path'
    )


def test_kubectl_apply_is_strict_about_unknown_fields(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: default}\ndatas: {a: b}\n"
    )
    strict = kubectl("apply", "-f", str(manifest))
    assert strict.returncode == 1
    assert 'strict decoding error: unknown field "datas"' in strict.stderr
    warned = kubectl("apply", "--validate=warn", "-f", str(manifest))
    assert warned.returncode == 0
    assert 'Warning: unknown field "datas"' in warned.stderr


@pytest.mark.parametrize(
    "base",
    [*(f"aws-load-balancer-controller/{version}" for version in BUNDLED_VERSIONS), "ingress"],
)
def test_bundled_manifests_pass_a_strict_server_side_dry_run(kubectl: Kubectl, base: str) -> None:
    rendered = kubectl("kustomize", str(DEPLOYMENTS / base))
    assert rendered.returncode == 0, rendered.stderr
    if base == "ingress":
        kubectl("create", "namespace", "istio-system")
    # The CRDs must exist and be Established before their custom resources can be dry-run.
    crds = DEPLOYMENTS / base / "crds.yaml"
    if crds.exists():
        applied = kubectl("apply", "--server-side", "-f", str(crds))
        assert applied.returncode == 0, applied.stderr
        waited = kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
        assert waited.returncode == 0, waited.stderr
    result = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=kubeflow-alb",
        "-f",
        "-",
        stdin=rendered.stdout,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
