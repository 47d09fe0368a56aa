"""Route53's request budget of an AWS account: a token bucket of this process (the default),
or, shared by every worker of a fleet, a Prefect global concurrency limit used as a rate limit
(its slots decay at the rate). The clients' hooks (tasks/aws/clients.py) call in here."""

from __future__ import annotations

import re
import threading
from typing import Any

from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists

from core.rate_budget import RateBudget
from tasks.prefect_api import prefect_client

_PREFIX = "kfalb-route53-"
_made: dict[str, tuple[int, float]] = {}
_made_lock = threading.Lock()


def limit_name(key: str) -> str:
    """The global concurrency limit of a budget key ("account 123456789012" ->
    "kfalb-route53-account-123456789012")."""
    return _PREFIX + re.sub(r"[^A-Za-z0-9-]+", "-", key).strip("-")


def ensure_limit(name: str, *, rate: float, burst: int) -> None:
    """Create (or set) the limit once per process: `burst` slots, freed at `rate` per second."""
    with _made_lock:
        if _made.get(name) == (burst, rate):
            return
    with prefect_client() as client:
        try:
            client.upsert_global_concurrency_limit_by_name(
                name, limit=burst, slot_decay_per_second=rate
            )
        except ObjectAlreadyExists:  # another worker made it between our look and our create
            pass
    with _made_lock:
        _made[name] = (burst, rate)


def take_slot(key: str, *, rate: float, burst: int) -> None:
    """Wait for a Route53 request slot of `key` in the Prefect server's limit."""
    name = limit_name(key)
    ensure_limit(name, rate=rate, burst=burst)
    rate_limit(name, occupy=1, strict=True)


#: Admits each account's Route53 requests at KFALB_ROUTE53_RATE per second, for every client of
#: the process (AWS: a bucket of 50 refilled at 10 per second per account, beyond that
#: `Throttling`); with KFALB_ROUTE53_BUDGET=prefect, a Prefect limit every worker shares.
_budget = RateBudget()
#: Access key id -> account, learnt from the STS identities the flows read first anyway.
_account_of_key: dict[str, str] = {}
_keys_lock = threading.Lock()
_SIGNED_BY = re.compile(r"Credential=([^/]+)/")


def learn_account(parsed: dict[str, Any], key: str, **_: Any) -> None:
    """botocore after-call hook of GetCallerIdentity: the account of an access key."""
    account = parsed.get("Account")
    if account:
        with _keys_lock:
            _account_of_key[key] = str(account)


def route53_slot(request: Any, rate: float, burst: int = 1, shared: bool = False, **_: Any) -> None:
    """botocore before-send hook of Route53: wait for a slot of the request's account."""
    # before-send runs for every attempt, retries included: each is a request AWS counts.
    signed = request.headers.get("Authorization", b"")
    text = signed.decode("utf-8", "replace") if isinstance(signed, bytes) else str(signed)
    found = _SIGNED_BY.search(text)
    key = route53_budget_key(found.group(1) if found else "")
    if shared:  # every worker's requests of the account through one Prefect limit
        take_slot(key, rate=rate, burst=burst)
    else:
        _budget.acquire(key, rate, burst)


def route53_budget_key(access_key: str) -> str:
    """The budget a request signed with `access_key` is admitted by (its account, when known)."""
    with _keys_lock:
        account = _account_of_key.get(access_key)
    return f"account {account}" if account else f"key {access_key}"
