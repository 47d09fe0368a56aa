"""Errors of the Prefect API itself (the server busy, a lost answer): a fleet run retries the
work they broke instead of ending; every other error is the work's own."""

from __future__ import annotations

from typing import Any

import httpx
from prefect import Task
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
