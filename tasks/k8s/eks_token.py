"""EKS bearer tokens: a presigned STS GetCallerIdentity URL that names the cluster, base64url-encoded.

The API server's authenticator calls the URL; STS answers with the caller's identity, and the
signed `x-k8s-aws-id` header binds the token to one cluster. This is what `aws eks get-token` does.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_sts import STSClient

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
#: X-Amz-Expires of the URL. EKS ignores it and accepts a token for 15 minutes after signing.
URL_EXPIRES_SECONDS = 60
#: Refresh before EKS's 15 minutes run out, as aws-cli and client-go do.
TOKEN_LIFETIME = timedelta(minutes=14)

_EVENT = "before-sign.sts.GetCallerIdentity"
# The header is added by an event handler on the client; one signing at a time per process keeps
# a concurrent signing for another cluster from seeing this one's handler.
_signing = threading.Lock()


@dataclass(frozen=True)
class EksToken:
    """A bearer token for one cluster and when to stop using it."""

    token: str = field(repr=False)
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def mint_token(
    sts: STSClient, cluster_name: str, *, now: Callable[[], datetime] | None = None
) -> EksToken:
    """Sign GetCallerIdentity with `x-k8s-aws-id: <cluster>` and wrap the URL as an EKS token."""
    signed_at = (now or _utcnow)()
    handler = partial(_add_cluster_header, cluster_name)
    events = sts.meta.events
    with _signing:
        events.register(_EVENT, handler, unique_id="kubeflow-alb-eks-token")
        try:
            url = sts.generate_presigned_url(
                "get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES_SECONDS, HttpMethod="GET"
            )
        finally:
            events.unregister(_EVENT, unique_id="kubeflow-alb-eks-token")
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return EksToken(token=TOKEN_PREFIX + encoded, expires_at=signed_at + TOKEN_LIFETIME)


def _add_cluster_header(cluster_name: str, request: Any, **_: Any) -> None:
    # Added before signing, so SigV4 lists it in X-Amz-SignedHeaders and STS checks it.
    request.headers[CLUSTER_HEADER] = cluster_name


def _utcnow() -> datetime:
    return datetime.now(UTC)
