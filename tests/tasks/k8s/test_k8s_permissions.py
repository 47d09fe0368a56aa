"""The permissions preflight: SelfSubjectAccessReviews for everything setup applies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import PreflightError
from sandbox.kube.seed import seed_kubeflow_cluster
from sandbox.kube.server import KubeApiServer
from tasks.k8s.clients import KubeTarget
from tasks.k8s.cluster import preflight_permissions
from tasks.k8s.manifests import INGRESS_BASE, controller_base, render

DEV_TOKEN = "dev-token"  # noqa: S105 - a sandbox access entry


@pytest.fixture
def server(fast_settings: None) -> Iterator[KubeApiServer]:
    with KubeApiServer(access_entries={DEV_TOKEN: ("dev", ["platform"])}) as running:
        seed_kubeflow_cluster(running)
        # Everything but CRDs: the group "platform" may do anything in the core, apps,
        # networking, RBAC and admission groups.
        running.store.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "platform"},
                "rules": [
                    {
                        "apiGroups": [
                            "",
                            "apps",
                            "networking.k8s.io",
                            "rbac.authorization.k8s.io",
                            "admissionregistration.k8s.io",
                            "elbv2.k8s.aws",
                        ],
                        "resources": ["*"],
                        "verbs": ["*"],
                    }
                ],
            }
        )
        running.store.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "platform"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "platform",
                },
                "subjects": [
                    {"kind": "Group", "name": "platform", "apiGroup": "rbac.authorization.k8s.io"}
                ],
            }
        )
        yield running


def _objects() -> list[dict[str, object]]:
    return render(controller_base()) + render(INGRESS_BASE)


def test_an_admin_may_apply_everything(
    server: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kubeconfig")))
    preflight_permissions.fn(KubeTarget.kubeconfig(), _objects())


def test_an_identity_without_crd_rights_is_stopped_naming_the_permission(
    server: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", token=DEV_TOKEN)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with pytest.raises(PreflightError) as stopped:
        preflight_permissions.fn(KubeTarget.kubeconfig(), _objects())
    message = str(stopped.value)
    assert "it may not get customresourcedefinitions.apiextensions.k8s.io at the cluster scope" in (
        message
    )
    assert "create customresourcedefinitions.apiextensions.k8s.io at the cluster scope" in message
    assert "ingresses" not in message  # what RBAC grants is not reported
    assert server.store.list("apiextensions.k8s.io/v1", "CustomResourceDefinition") == []
    # Without the controller to install, the Ingress alone is within this identity's rights.
    preflight_permissions.fn(KubeTarget.kubeconfig(), render(INGRESS_BASE))
