"""The Kubernetes stand-in over HTTPS: kubectl and the Python client trust it via the kubeconfig CA."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from sandbox.ca import SandboxCA
from sandbox.kube import KubeApiServer, seed_kubeflow_cluster, server_tls_context

KUBECTL = Path(sys.executable).parent / "kubectl"


@pytest.fixture(scope="module")
def ca() -> SandboxCA:
    return SandboxCA()


@pytest.fixture(scope="module")
def server(ca: SandboxCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    cert_path, key_path = ca.issue_files(tmp_path_factory.mktemp("tls"), "apiserver", ["127.0.0.1"])
    with KubeApiServer(
        tls=server_tls_context(cert_path, key_path), deployment_ready_delay=0.1
    ) as running:
        seed_kubeflow_cluster(running)
        yield running


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "KUBECONFIG": str(kubeconfig),
        "HOME": str(kubeconfig.parent),
        "KUBECACHEDIR": str(kubeconfig.parent / "cache"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    return subprocess.run(
        [str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_url_is_https(server: KubeApiServer) -> None:
    assert server.url.startswith("https://127.0.0.1:")


def test_kubectl_trusts_the_certificate_authority_data(
    server: KubeApiServer, ca: SandboxCA, tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "config", ca_pem=ca.cert_pem.encode())
    listed = _kubectl(kubeconfig, "get", "namespaces", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert "namespace/istio-system" in listed.stdout.split()
    waited = _kubectl(
        kubeconfig,
        "wait",
        "--for=jsonpath={.status.readyReplicas}=1",
        "deployment/istio-ingressgateway",
        "-n",
        "istio-system",
        "--timeout=20s",
    )
    assert waited.returncode == 0, waited.stderr


def test_kubectl_with_a_wrong_token_is_refused(
    server: KubeApiServer, ca: SandboxCA, tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(
        tmp_path / "config", token="wrong", ca_pem=ca.cert_pem.encode()
    )
    refused = _kubectl(kubeconfig, "get", "namespaces")
    assert refused.returncode == 1
    assert "provide credentials" in refused.stderr


def test_kubectl_without_the_ca_does_not_trust_the_server(
    server: KubeApiServer, tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "config")
    untrusted = _kubectl(kubeconfig, "get", "namespaces")
    assert untrusted.returncode == 1
    assert "certificate" in untrusted.stderr


def test_python_client_over_tls(server: KubeApiServer, ca: SandboxCA, tmp_path: Path) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "config", ca_pem=ca.cert_pem.encode())
    core = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert "kubeflow" in names
