"""The task logger: Prefect's run logger inside a run, a plain logger outside one (task.fn)."""

from __future__ import annotations

import logging
from typing import Any

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

_FALLBACK = logging.getLogger("kfalb.tasks")


def run_logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    """Prefect's run logger (shown in the UI), or a module logger when called via `task.fn`."""
    try:
        return get_run_logger()
    except MissingContextError:
        return _FALLBACK
