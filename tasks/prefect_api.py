"""Errors of the Prefect API itself (the server busy, a lost answer): a fleet run retries the
work they broke instead of ending; every other error is the work's own."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from prefect import Task
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import State, TaskRun

from core.settings import Settings, get_settings
from tasks import interrupt

#: Retries of a stack's check or a fleet artifact that the Prefect API broke (Prefect's client
#: already retried each request a few times before giving up), as multiples of the setting.
PREFECT_API_RETRY_FACTORS = (1.0, 5.0, 15.0)


def prefect_api_retry_delays(settings: Settings | None = None) -> list[float]:
    """Seconds before each retry (KFALB_PREFECT_API_RETRY_SECONDS, then 5 and 15 times it)."""
    first = (settings or get_settings()).prefect_api_retry_seconds
    return [first * factor for factor in PREFECT_API_RETRY_FACTORS]


def is_prefect_api_transient(error: BaseException | None) -> bool:
    """True when the Prefect API failed in a way a later try may not: 408, 429 or 5xx answers,
    timeouts and lost connections (also as the cause of another error)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, httpx.HTTPStatusError):
            code = error.response.status_code
            if code in (408, 429) or code >= 500:
                return True
        elif isinstance(error, httpx.TransportError):
            return True
        error = error.__cause__
    return False


def retry_on_prefect_api(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry a task that the Prefect API failed, nothing else."""
    if interrupt.stop_requested():
        return False
    try:
        state.result()
    except Exception as error:  # any failure: deciding about it is the point here
        return is_prefect_api_transient(error)
    return False


#: Seconds before each new try of a write the server answered 503. A Prefect server on SQLite
#: answers so when a write meets one of its own ("database is locked", gone in milliseconds);
#: Prefect's client waits 2 s before its first retry (even with its retries set to 0), and a
#: setup's block saves met that several times. After these, the usual way takes over.
BUSY_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def sent_past_busy(
    client: SyncPrefectClient,
    method: str,
    path: str,
    body: Any,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Send one write with Prefect's own client (its base URL, headers, connections) but not
    its retry layer, trying again soon after each 503. True when the server took it; False on
    any other outcome: the caller then sends it the usual way, which raises Prefect's errors
    (404 as ObjectNotFound), fetches a CSRF token if the server wants one, and waits out a
    server still busy."""
    http = client._client  # Prefect's httpx client; its own `send` is the slow retry layer
    for delay in (*BUSY_RETRY_DELAYS, None):
        try:
            response = httpx.Client.send(http, http.build_request(method, path, json=body))
        except httpx.TransportError:
            return False
        response.close()
        if response.is_success:
            return True
        if response.status_code != 503 or delay is None:
            return False
        sleep(delay)
    return False
