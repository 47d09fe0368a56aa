"""Tests of the Kubernetes stand-in's bearer-token checks: static tokens and EKS-style STS tokens."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from sandbox.kube import KubeApiServer
from sandbox.kube.auth import TokenAuthenticator, eks_token_problem
from tasks.k8s.eks_token import mint_token

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def _token(url: str) -> str:
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def _sts_url(**overrides: str) -> str:
    params = {
        "Action": "GetCallerIdentity",
        "Version": "2011-06-15",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "AKIAEXAMPLE/20261126/us-east-1/sts/aws4_request",
        "X-Amz-Date": "20261126T115500Z",
        "X-Amz-Expires": "60",
        "X-Amz-SignedHeaders": "host;x-k8s-aws-id",
        "X-Amz-Signature": "abc123",
    }
    params.update(overrides)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"https://sts.us-east-1.amazonaws.com/?{query}"


def test_a_token_minted_by_the_project_is_accepted() -> None:
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
    )
    token = mint_token(sts, "kubeflow").token
    assert eks_token_problem(token) is None


def test_eks_tokens_are_checked_for_shape_and_age() -> None:
    assert eks_token_problem(_token(_sts_url()), now=NOW) is None
    # EKS honours a token for 15 minutes after signing, whatever X-Amz-Expires says.
    assert (
        eks_token_problem(_token(_sts_url(**{"X-Amz-Date": "20261126T114600Z"})), now=NOW) is None
    )
    assert (
        eks_token_problem(_token(_sts_url(**{"X-Amz-Date": "20261126T114400Z"})), now=NOW)
        == "expired"
    )
    assert eks_token_problem(_token(_sts_url(Action="AssumeRole")), now=NOW)
    assert eks_token_problem(_token(_sts_url(**{"X-Amz-SignedHeaders": "host"})), now=NOW)
    assert eks_token_problem(_token(_sts_url(**{"X-Amz-Expires": "3600"})), now=NOW)
    assert eks_token_problem("k8s-aws-v1.!!!", now=NOW)
    assert eks_token_problem("sandbox-token", now=NOW)


def test_authenticator_accepts_static_tokens_and_refuses_others() -> None:
    auth = TokenAuthenticator(["t1"], accept_eks_tokens=False)
    assert auth.authenticate("Bearer t1")
    assert not auth.authenticate("Bearer t2")
    assert not auth.authenticate(None)
    assert not auth.authenticate(f"Bearer {_token(_sts_url())}")
    anonymous = TokenAuthenticator(["t1"], accept_eks_tokens=False, allow_anonymous=True)
    assert anonymous.authenticate(None)
    assert not anonymous.authenticate("Bearer wrong")


@pytest.fixture(scope="module")
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(tokens=["t1"], allow_anonymous=False, run_controllers=False) as running:
        yield running


def _get(server: KubeApiServer, path: str, token: str | None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(server.url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_server_answers_401_status_without_valid_token(server: KubeApiServer) -> None:
    code, body = _get(server, "/api/v1/namespaces", "wrong")
    assert code == 401
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Unauthorized", 401)
    assert _get(server, "/api/v1/namespaces", None)[0] == 401
    assert _get(server, "/api/v1/namespaces", "t1")[0] == 200
    assert _get(server, "/version", None)[0] == 200  # public, as on a real cluster


def test_server_accepts_a_fresh_eks_token(server: KubeApiServer) -> None:
    signed_at = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert (
        _get(server, "/api/v1/namespaces", _token(_sts_url(**{"X-Amz-Date": signed_at})))[0] == 200
    )
    stale = _token(_sts_url(**{"X-Amz-Date": "20200101T000000Z"}))
    assert _get(server, "/api/v1/namespaces", stale)[0] == 401
