"""EKS bearer tokens: a presigned STS GetCallerIdentity URL bound to the cluster by a signed header."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from tasks.k8s.eks_token import TOKEN_PREFIX, mint_token

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def token_url(token: str) -> str:
    """The presigned URL inside a token, as the API server's authenticator reads it."""
    payload = token.removeprefix(TOKEN_PREFIX)
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> object:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.session.Session(
        aws_access_key_id="AKIAEXAMPLEKEY",
        aws_secret_access_key="secret",
        region_name="eu-west-1",
    )
    return session.client("sts", region_name="eu-west-1")


def test_token_is_a_presigned_get_caller_identity_for_the_cluster(sts: object) -> None:
    token = mint_token(sts, "kubeflow", now=lambda: NOW)  # type: ignore[arg-type]
    assert token.token.startswith(TOKEN_PREFIX)
    assert "=" not in token.token  # base64url without padding
    url = urlsplit(token_url(token.token))
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert url.scheme == "https"
    assert url.hostname == "sts.eu-west-1.amazonaws.com"
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Credential"].startswith("AKIAEXAMPLEKEY/")
    assert "/eu-west-1/sts/aws4_request" in query["X-Amz-Credential"]
    assert token.expires_at == datetime(2026, 11, 26, 12, 14, tzinfo=UTC)
    assert not token.expired(NOW)
    assert token.expired(datetime(2026, 11, 26, 12, 14, tzinfo=UTC))
    assert "token" not in repr(token).lower().replace("ekstoken", "")


def test_signature_depends_on_the_cluster_and_the_handler_is_removed(sts: object) -> None:
    one = token_url(mint_token(sts, "one").token)  # type: ignore[arg-type]
    two = token_url(mint_token(sts, "two").token)  # type: ignore[arg-type]
    signature = lambda url: parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]  # noqa: E731
    assert signature(one) != signature(two)
    plain = sts.generate_presigned_url("get_caller_identity", Params={})  # type: ignore[attr-defined]
    assert "x-k8s-aws-id" not in parse_qs(urlsplit(plain).query)["X-Amz-SignedHeaders"][0]
