"""Several AWS accounts behind one sandbox endpoint: the request's access key picks the account.

As in AWS, one endpoint serves every account and the credentials decide whose resources a call
sees. Each account added to a sandbox gets an IAM user with an access key made by moto in that
account; a request signed with that key is served from that account (with its own rules'
settings), any other request from the sandbox's own account as before.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import boto3

if TYPE_CHECKING:
    from sandbox.aws.hooks import Realism

#: The IAM user each added account's access key belongs to.
SANDBOX_USER = "kfalb-sandbox"
_ACCESS_KEY = re.compile(r"Credential=([A-Z0-9]+)/")
_lock = threading.Lock()
#: Access key id -> the settings of the account it belongs to (process-wide, as moto's IAM).
_by_key: dict[str, Realism] = {}


@dataclass(frozen=True)
class AccountKeys:
    """An account's credentials in the sandbox (sandbox keys: not secrets)."""

    account_id: str
    region: str
    access_key_id: str
    secret_access_key: str

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )


def access_key_of(environ: dict[str, Any]) -> str:
    """The access key id a request is signed with (header or presigned query), or ""."""
    found = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found:
        return found.group(1)
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    return str(credential).split("/", 1)[0]


def realism_for(environ: dict[str, Any], default: Realism) -> Realism:
    """The settings of the account a request's key belongs to; else the sandbox's own."""
    with _lock:
        found = _by_key.get(access_key_of(environ))
    return found if found is not None else default


def create_account(
    endpoint_url: str, base: Realism, *, account_id: str, region: str
) -> AccountKeys:
    """Make an IAM user with an access key in `account_id` and serve that key's requests from it."""
    iam = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client("iam", endpoint_url=endpoint_url, region_name=region)

    def to_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    iam.meta.events.register("before-send.iam.*", to_account)
    iam.create_user(UserName=SANDBOX_USER)
    key = iam.create_access_key(UserName=SANDBOX_USER)["AccessKey"]
    keys = AccountKeys(account_id, region, str(key["AccessKeyId"]), str(key["SecretAccessKey"]))
    with _lock:
        _by_key[keys.access_key_id] = replace(base, account_id=account_id, region=region)
    return keys


def forget(keys: Iterator[AccountKeys] | list[AccountKeys]) -> None:
    """Stop routing these keys (their sandbox stopped)."""
    with _lock:
        for item in keys:
            _by_key.pop(item.access_key_id, None)


# --- what the sandbox saw on the wire: kubeflow-alb's requests by account and stack ----------

#: A kubeflow-alb client's User-Agent names the stack its calls are made for.
_STACK = re.compile(r"kubeflow-alb-stack/(\S+)")
_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class SeenRequest:
    """One request as the sandbox served it."""

    at: float  # time.monotonic()
    account: str
    service: str  # the SigV4 service name: route53, ec2, elasticloadbalancing...
    stack: str  # from the User-Agent; "" for callers that name none (the stand-ins)


_seen: deque[SeenRequest] = deque(maxlen=200_000)
#: Route53 token buckets per account (tokens, when last filled), see ``route53_throttled``.
_route53_tokens: dict[str, tuple[float, float]] = {}
#: Route53 requests refused with ``Throttling``, per account.
throttled: Counter[str] = Counter()


def note_request(environ: dict[str, Any], account: str) -> SeenRequest:
    """Remember a request (cheap: a regex or two and an append)."""
    found = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    stack = _STACK.search(environ.get("HTTP_USER_AGENT", ""))
    item = SeenRequest(time.monotonic(), account, found.group(1) if found else "",
                       stack.group(1) if stack else "")  # fmt: skip
    _seen.append(item)
    return item


def seen_requests(*, since: float = 0.0) -> list[SeenRequest]:
    """The requests the sandboxes of this process served since `since` (monotonic)."""
    return [item for item in list(_seen) if item.at >= since]


#: Route53 requests per second allowed per account, for the accounts that have a limit.
_route53_rates: dict[str, float] = {}


def limit_route53(account: str, rate: float | None) -> None:
    """Enforce AWS's Route53 rate in `account` (AWS: 5 per second); None: no limit."""
    with _lock:
        if rate is None:
            _route53_rates.pop(account, None)
        else:
            _route53_rates[account] = rate
        _route53_tokens.pop(account, None)


def route53_throttled(item: SeenRequest) -> bool:
    """AWS's Route53 limit per account, a token bucket of `rate` tokens refilled at `rate` per
    second: a request finding it empty is refused (``Throttling``, HTTP 400, "Rate exceeded")."""
    if item.service != "route53":
        return False
    with _lock:
        rate = _route53_rates.get(item.account)
        if rate is None:
            return False
        tokens, filled = _route53_tokens.get(item.account, (rate, item.at))
        tokens = min(rate, tokens + (item.at - filled) * rate)
        if tokens < 1.0:
            _route53_tokens[item.account] = (tokens, item.at)
            throttled[item.account] += 1
            return True
        _route53_tokens[item.account] = (tokens - 1.0, item.at)
        return False
