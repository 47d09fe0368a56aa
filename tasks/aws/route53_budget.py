"""Route53's request budget of an AWS account shared by every worker of a fleet: a Prefect
global concurrency limit used as a rate limit (its slots decay at the rate), not a bucket of
one process."""

from __future__ import annotations

import re
import threading

from prefect.client.orchestration import get_client
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists

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
    with get_client(sync_client=True) as client:
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
