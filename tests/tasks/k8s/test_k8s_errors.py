"""Kubernetes client errors become project errors, transient only where a retry helps."""

from __future__ import annotations

import json
import pickle

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from core.errors import KubernetesError, KubernetesTransientError, TransientError
from tasks.k8s.cluster import riding_out_blips
from tasks.k8s.errors import translate, translated


def api_error(status: int, message: str = "boom") -> ApiException:
    error = ApiException(status=status, reason="Reason")
    error.body = json.dumps({"kind": "Status", "message": message})
    return error


@pytest.mark.parametrize("status", [409, 429, 500, 503, 504])
def test_conflicts_throttling_and_server_errors_are_transient(status: int) -> None:
    error = translate(api_error(status), "Applying Ingress istio-system/istio-ingress")
    assert isinstance(error, KubernetesTransientError)
    assert "Applying Ingress istio-system/istio-ingress failed: boom" in str(error)


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_client_errors_are_permanent(status: int) -> None:
    error = translate(api_error(status, "admission webhook denied"), "Applying X")
    assert isinstance(error, KubernetesError)
    assert not isinstance(error, TransientError)
    assert "admission webhook denied" in str(error)
    assert pickle.loads(pickle.dumps(error)).message == error.message


def test_forbidden_says_what_to_check() -> None:
    assert "cluster-admin" in str(translate(api_error(403), "Reading Y"))


def test_connection_errors_are_transient_inside_translated() -> None:
    with pytest.raises(KubernetesTransientError, match="did not answer"), translated("Listing Z"):
        raise MaxRetryError(None, "/api", "connection refused")  # type: ignore[arg-type]


def test_body_without_status_falls_back_to_http_reason() -> None:
    error = ApiException(status=502, reason="Bad Gateway")
    error.body = "<html>"
    assert "HTTP 502 Bad Gateway" in str(translate(error, "Doing"))


def test_a_wait_rides_out_a_transient_error_but_not_a_permanent_one() -> None:
    answers: list[object] = [1, KubernetesTransientError("503"), 3, KubernetesError("403")]

    def fetch() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)  # type: ignore[call-overload]

    poll = riding_out_blips(fetch, 0)
    assert [poll(), poll(), poll()] == [1, 1, 3]  # the failed poll repeats what was last seen
    with pytest.raises(KubernetesError, match="403"):
        poll()
