"""Prefect retry policy shared by all tasks: retry only errors a retry can fix."""

from __future__ import annotations

from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from core.errors import is_transient
from tasks import interrupt

#: Prefect-level retries, on top of botocore's own quick retries of throttled calls.
RETRIES = 3
#: Seconds between Prefect retries; long enough for API throttling or IAM propagation to pass.
RETRY_DELAYS = [5.0, 20.0, 60.0]
RETRY_JITTER = 0.3


def retry_on_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry when the task failed with a TransientError only."""
    if interrupt.stop_requested():
        return False  # the user asked the run to stop: no retry starts
    try:
        state.result()
    except Exception as error:  # any failure: deciding about it is the point here
        return is_transient(error)
    return False


#: `@task` with the shared retry policy. No caching: these tasks read or change the live world,
#: so a result remembered from earlier in the run would be stale.
retrying_task = task(
    cache_policy=NO_CACHE,
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
)
