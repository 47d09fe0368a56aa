"""Bearer-token authentication: static tokens and EKS-style presigned STS tokens."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

from .authz import ADMIN, Identity

EKS_TOKEN_PREFIX = "k8s-aws-v1."
# EKS accepts a token for 15 minutes after X-Amz-Date, whatever X-Amz-Expires says
# (aws-iam-authenticator); X-Amz-Expires itself must lie in [0, 900].
EKS_TOKEN_LIFETIME = dt.timedelta(minutes=15)
_MAX_EXPIRES = 900


def eks_token_problem(token: str, *, now: dt.datetime | None = None) -> str | None:
    """Why ``token`` is not a well-formed, unexpired EKS token; None when it is acceptable.

    The signature cannot be checked here (that would take a call to STS), so only the
    shape of the presigned ``GetCallerIdentity`` URL and its age are verified.
    """
    if not token.startswith(EKS_TOKEN_PREFIX):
        return "missing k8s-aws-v1. prefix"
    encoded = token[len(EKS_TOKEN_PREFIX) :]
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "not base64url"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("/", ""):
        return "not a presigned STS URL"
    params = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    if params.get("action") != "GetCallerIdentity":
        return "action is not GetCallerIdentity"
    signed = [h.strip().lower() for h in params.get("x-amz-signedheaders", "").split(";")]
    if "x-k8s-aws-id" not in signed:
        return "x-k8s-aws-id is not a signed header"
    if not params.get("x-amz-signature") or not params.get("x-amz-credential"):
        return "unsigned URL"
    try:
        expires = int(params.get("x-amz-expires", ""))
        signed_at = dt.datetime.strptime(params.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ")
    except ValueError:
        return "bad X-Amz-Expires or X-Amz-Date"
    if not 0 <= expires <= _MAX_EXPIRES:
        return "X-Amz-Expires out of range"
    current = now or dt.datetime.now(dt.UTC)
    if current > signed_at.replace(tzinfo=dt.UTC) + EKS_TOKEN_LIFETIME:
        return "expired"
    return None


class TokenAuthenticator:
    """Accepts ``Authorization: Bearer <token>`` for known static tokens and, optionally, EKS tokens.

    ``allow_anonymous`` lets requests without credentials through (a wrong token is still
    refused): client-go never sends a bearer token over plain HTTP, so kubectl needs it there.
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        accept_eks_tokens: bool,
        allow_anonymous: bool = False,
        access_entries: Mapping[str, Identity] | None = None,
    ) -> None:
        self.tokens = frozenset(tokens)
        self.accept_eks_tokens = accept_eks_tokens
        self.allow_anonymous = allow_anonymous
        # token -> a non-admin user and groups, whose rights RBAC decides (an EKS access entry).
        self.access_entries = dict(access_entries or {})

    def authenticate(self, authorization: str | None) -> bool:
        return self.identify(authorization) is not None

    def identify(self, authorization: str | None) -> Identity | None:
        """Who the request is from (None: not authenticated, a 401)."""
        if not authorization:
            return ADMIN if self.allow_anonymous else None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if token in self.access_entries:
            return self.access_entries[token]
        if token in self.tokens:
            return ADMIN
        if self.accept_eks_tokens and eks_token_problem(token) is None:
            return ADMIN  # the cluster creator's identity
        return None
