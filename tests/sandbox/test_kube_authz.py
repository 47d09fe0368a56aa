"""Authorization in the Kubernetes stand-in: RBAC for an EKS-style access entry, kubectl auth can-i
(SelfSubjectAccessReview), and the real 403 bodies."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.ca import SandboxCA
from sandbox.kube import KubeApiServer, server_tls_context

KUBECTL = Path(sys.executable).parent / "kubectl"
DEV_TOKEN = "dev-token"  # noqa: S105 - a sandbox access entry, not a secret


@pytest.fixture(scope="module")
def ca() -> SandboxCA:
    return SandboxCA()


@pytest.fixture(scope="module")
def server(ca: SandboxCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    # kubectl sends bearer tokens only over HTTPS.
    cert_path, key_path = ca.issue_files(tmp_path_factory.mktemp("tls"), "apiserver", ["127.0.0.1"])
    with KubeApiServer(
        tls=server_tls_context(cert_path, key_path),
        access_entries={DEV_TOKEN: ("dev", ["developers"])},
    ) as running:
        store = running.store
        for name in ("default", "team"):
            store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        store.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "reader"},
                "rules": [
                    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}
                ],
            }
        )
        store.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "developers-read"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "reader",
                },
                "subjects": [
                    {"kind": "Group", "name": "developers", "apiGroup": "rbac.authorization.k8s.io"}
                ],
            }
        )
        store.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "configmaps", "namespace": "team"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}],
            }
        )
        store.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "dev-configmaps", "namespace": "team"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "configmaps",
                },
                "subjects": [
                    {"kind": "User", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}
                ],
            }
        )
        yield running


def _kubectl(
    server: KubeApiServer, ca: SandboxCA, home: Path, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    kubeconfig = server.write_kubeconfig(home / "config", token=token, ca_pem=ca.cert_pem.encode())
    env = {
        "KUBECONFIG": str(kubeconfig),
        "HOME": str(home),
        "KUBECACHEDIR": str(home / "cache"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    return subprocess.run(
        [str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_kubectl_auth_can_i_follows_rbac(
    server: KubeApiServer, ca: SandboxCA, tmp_path: Path
) -> None:
    def can_i(token: str, *args: str) -> str:
        return _kubectl(server, ca, tmp_path, token, "auth", "can-i", *args).stdout.strip()

    assert can_i("sandbox-token", "create", "customresourcedefinitions") == "yes"
    assert can_i(DEV_TOKEN, "list", "namespaces") == "yes"
    assert can_i(DEV_TOKEN, "create", "customresourcedefinitions") == "no"
    assert can_i(DEV_TOKEN, "create", "configmaps", "-n", "team") == "yes"
    assert can_i(DEV_TOKEN, "create", "configmaps", "-n", "default") == "no"


def test_a_refused_request_gets_the_real_403(
    server: KubeApiServer, ca: SandboxCA, tmp_path: Path
) -> None:
    created = _kubectl(server, ca, tmp_path, DEV_TOKEN, "create", "namespace", "mine")
    assert created.returncode == 1
    assert created.stderr.strip() == (
        'Error from server (Forbidden): namespaces is forbidden: User "dev" cannot create '
        'resource "namespaces" in API group "" at the cluster scope'
    )
    read = _kubectl(server, ca, tmp_path, DEV_TOKEN, "get", "configmap", "x", "-n", "default")
    assert read.stderr.strip() == (
        'Error from server (Forbidden): configmaps "x" is forbidden: User "dev" cannot get '
        'resource "configmaps" in API group "" in the namespace "default"'
    )
    allowed = _kubectl(server, ca, tmp_path, DEV_TOKEN, "create", "configmap", "ok", "-n", "team")
    assert allowed.returncode == 0, allowed.stderr
