"""Discovery as a 1.3x server offers it: about twenty built-in groups, aggregated (v2) for kubectl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.kube import KubeApiServer

KUBECTL = Path(sys.executable).parent / "kubectl"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture(scope="module")
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer() as running:
        yield running


def _get(server: KubeApiServer, path: str, accept: str) -> tuple[str, dict[str, object]]:
    request = urllib.request.Request(server.url + path, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], json.load(response)


def test_the_built_in_groups_of_a_real_server_are_listed(server: KubeApiServer) -> None:
    _, listing = _get(server, "/apis", "application/json")
    names = {g["name"] for g in listing["groups"]}  # type: ignore[attr-defined]
    assert len(names) >= 20
    assert {"authorization.k8s.io", "batch", "policy", "storage.k8s.io"} <= names


def test_aggregated_discovery_answers_with_its_media_type(server: KubeApiServer) -> None:
    media, listing = _get(server, "/apis", AGGREGATED + ",application/json")
    assert media == AGGREGATED
    assert listing["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in listing["items"] if i["metadata"].get("name") == "apps")  # type: ignore[attr-defined]
    deployments = next(
        r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments"
    )
    assert deployments["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert [s["subresource"] for s in deployments["subresources"]] == ["scale", "status"]
    media, _ = _get(server, "/apis", "application/json")
    assert media == "application/json"  # clients that do not ask get the APIGroupList


def test_kubectl_discovers_everything_from_the_aggregated_documents(
    server: KubeApiServer, tmp_path: Path
) -> None:
    env = {
        "KUBECONFIG": str(server.write_kubeconfig(tmp_path / "config")),
        "HOME": str(tmp_path),
        "KUBECACHEDIR": str(tmp_path / "cache"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    result = subprocess.run(
        [str(KUBECTL), "api-resources", "-v=6"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    fetched = [line for line in result.stderr.splitlines() if 'verb="GET"' in line]
    assert len(fetched) == 2  # /api and /apis only: no per-group-version documents
    assert "selfsubjectaccessreviews" in result.stdout
