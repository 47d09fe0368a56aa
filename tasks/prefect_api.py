"""Errors of the Prefect API itself (the server busy, a lost answer): a fleet run retries the
work they broke instead of ending; every other error is the work's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from prefect import Task, get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import SyncClientContext

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


#: Seconds before each new try of a request the server answered 503. A Prefect server on SQLite
#: answers so when a write meets one of its own ("database is locked", gone in milliseconds);
#: Prefect's client waits 2 s before its first retry (even with its retries set to 0), and a
#: setup's block saves and the block type's first registration met that several times. After
#: these, Prefect's own retries take over.
BUSY_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)

_WRAPPING = threading.Lock()


class _SoonAgainWhenBusy(httpx.BaseTransport):
    """A transport that sends a request again soon after a 503 (a 503 is a request not carried
    out, which Prefect's client retries for every method too), before Prefect's slow retry
    layer above it sees the answer."""

    def __init__(self, inner: httpx.BaseTransport, sleep: Callable[[float], None]) -> None:
        self.inner = inner
        self.sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body, to send again
        for delay in BUSY_RETRY_DELAYS:
            response = self.inner.handle_request(request)
            if response.status_code != 503 or interrupt.stop_requested():
                return response
            response.close()
            self.sleep(delay)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def busy_tolerant(
    client: SyncPrefectClient, *, sleep: Callable[[float], None] = time.sleep
) -> SyncPrefectClient:
    """The client, its requests tried again soon when the server answers 503 (once per client:
    a flow run's requests share its client)."""
    http = client._client  # Prefect's httpx client, under its retry layer
    with _WRAPPING:
        if not isinstance(http._transport, _SoonAgainWhenBusy):
            http._transport = _SoonAgainWhenBusy(http._transport, sleep)
    return client


def prefect_client() -> SyncPrefectClient:
    """Prefect's sync client (inside a run, the run's own) with busy answers tried again soon."""
    return busy_tolerant(get_client(sync_client=True))


def tolerate_busy_server() -> None:
    """Inside a run: its client (its artifacts, blocks, states) tries busy answers again soon."""
    if SyncClientContext.get() is not None:
        prefect_client()
