"""Reaching the API from an EKS description (endpoint + CA) with a freshly minted EKS token."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.dynamic.discovery import LazyDiscoverer

from core.errors import PreflightError
from sandbox.ca import SandboxCA
from sandbox.kube.seed import seed_kubeflow_cluster
from sandbox.kube.server import KubeApiServer, server_tls_context
from tasks.aws.clients import AwsContext, reset_sessions
from tasks.k8s.apply import resource_for
from tasks.k8s.clients import KubeTarget, connect
from tasks.k8s.gateway_api import bundled_objects
from tasks.k8s.ingress import preflight_kubernetes


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    reset_sessions()
    yield
    reset_sessions()


@pytest.fixture
def tls_server(tmp_path: Path, fast_settings: None) -> Iterator[tuple[KubeApiServer, SandboxCA]]:
    """An HTTPS API server that accepts only EKS tokens (no static token, no anonymous access)."""
    ca = SandboxCA()
    cert, key = ca.issue_files(tmp_path, "apiserver", ["127.0.0.1", "localhost"])
    server = KubeApiServer(
        tokens=(), accept_eks_tokens=True, tls=server_tls_context(cert, key), allow_anonymous=False
    ).start()
    try:
        seed_kubeflow_cluster(server)
        yield server, ca
    finally:
        server.stop()


def eks_target(server: KubeApiServer, ca: SandboxCA) -> KubeTarget:
    return KubeTarget.eks(
        cluster_name="kubeflow",
        endpoint=server.url,
        ca_data=base64.b64encode(ca.cert_pem.encode()).decode(),
        aws=AwsContext(region="us-west-2"),
    )


def test_eks_target_authenticates_with_a_minted_token(
    tls_server: tuple[KubeApiServer, SandboxCA], aws_credentials: None
) -> None:
    server, ca = tls_server
    target = eks_target(server, ca)
    access = preflight_kubernetes.fn(target)
    assert access.server == server.url
    with connect(target) as kube:
        token = kube.api.configuration.api_key["authorization"]
        assert token.startswith("k8s-aws-v1.")
        assert kube.api.configuration.api_key_prefix["authorization"] == "Bearer"


def test_eks_target_is_picklable_and_hides_the_ca(
    tls_server: tuple[KubeApiServer, SandboxCA],
) -> None:
    import pickle

    server, ca = tls_server
    target = eks_target(server, ca)
    assert pickle.loads(pickle.dumps(target)) == target
    assert "ca_data" not in repr(target)
    assert target.describe() == f"EKS cluster kubeflow at {server.url}"


def test_wrong_ca_is_a_clear_preflight_error(
    tls_server: tuple[KubeApiServer, SandboxCA], aws_credentials: None
) -> None:
    server, _ = tls_server
    with pytest.raises(PreflightError, match=f"Kubernetes API at {server.url} .* not reachable"):
        preflight_kubernetes.fn(eks_target(server, SandboxCA("another CA")))


def test_eks_target_without_endpoint_is_refused() -> None:
    target = KubeTarget.eks(
        cluster_name="kubeflow", endpoint="", ca_data="", aws=AwsContext(region="us-west-2")
    )
    with pytest.raises(PreflightError, match="is the cluster ACTIVE"), connect(target):
        pass


def test_missing_aws_credentials_are_a_preflight_error(
    tls_server: tuple[KubeApiServer, SandboxCA], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    reset_sessions()
    server, ca = tls_server
    with pytest.raises(PreflightError, match="Cannot sign a token for EKS cluster kubeflow"):
        preflight_kubernetes.fn(eks_target(server, ca))
    reset_sessions()


def test_an_old_token_is_replaced_before_the_next_request(aws_credentials: None) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from kubernetes.client import Configuration

    from tasks.k8s.clients import _TokenRefresher

    refresher = _TokenRefresher("kubeflow", AwsContext(region="us-west-2"))
    configuration = Configuration()
    refresher(configuration)
    first = configuration.api_key["authorization"]
    refresher(configuration)
    assert configuration.api_key["authorization"] == first  # still fresh: no new signature
    assert refresher._token is not None
    kept = refresher._token
    refresher._token = replace(kept, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    refresher(configuration)
    # Signed again (the text may repeat within the same second: X-Amz-Date has 1 s resolution).
    assert refresher._token is not kept
    assert not refresher._token.expired(datetime.now(UTC) + timedelta(minutes=13))
    assert configuration.api_key["authorization"] == refresher._token.token


GATEWAY = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway"}


def _discoveries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time a discoverer of this process discovers the whole API again."""
    seen: list[str] = []
    original = LazyDiscoverer.invalidate_cache

    def counted(discoverer: Any) -> None:
        seen.append(discoverer.client.configuration.host)
        original(discoverer)

    monkeypatch.setattr(LazyDiscoverer, "invalidate_cache", counted)
    return seen


def test_a_kind_not_served_is_asked_for_once_until_discovery_is_refreshed(
    kube_server: KubeApiServer, target: KubeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fleet reads the same missing kinds of a cluster for every stack: the API is discovered
    again once, not per read; a refresh (after CRDs are applied) forgets the answer."""
    discoveries = _discoveries(monkeypatch)
    with connect(target) as kube:
        assert resource_for(kube, GATEWAY) is None
    assert len(discoveries) == 1
    kube_server.store.crd_established_delay = 0.0  # served at once: no wait in the test
    for name in ("gateways", "httproutes"):
        crd = next(o for o in bundled_objects("v1.6.0")
                   if o["metadata"]["name"] == f"{name}.gateway.networking.k8s.io")  # fmt: skip
        kube_server.store.apply(crd, field_manager="another-tool")
    with connect(target) as kube:  # another connection, as the next stack's read
        assert resource_for(kube, GATEWAY) is None  # taken as missing: no discovery
        assert len(discoveries) == 1
        kube.refresh_discovery()
        assert resource_for(kube, GATEWAY) is not None


def test_with_no_memory_of_misses_a_new_kind_is_found_at_once(
    kube_server: KubeApiServer, target: KubeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFALB_KUBE_DISCOVERY_MISS_SECONDS", "0")
    with connect(target) as kube:
        assert resource_for(kube, GATEWAY) is None
    kube_server.store.crd_established_delay = 0.0  # served at once: no wait in the test
    crd = next(o for o in bundled_objects("v1.6.0")
               if o["metadata"]["name"] == "gateways.gateway.networking.k8s.io")  # fmt: skip
    kube_server.store.apply(crd, field_manager="another-tool")
    with connect(target) as kube:
        assert resource_for(kube, GATEWAY) is not None
