"""Expected outcomes end a flow run with one line: its message, no traceback (in the UI too)."""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections import deque
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import get_run_logger
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.states import Cancelled, Failed

from core.approval import PlanRejected
from core.errors import Interrupted, KfalbError
from tasks import interrupt
from tasks.prefect_api import tolerate_busy_server

P = ParamSpec("P")
R = TypeVar("R")

#: Log record attribute on the outcome line, so the command (which prints it) can hold it back.
OUTCOME_MARK = "kfalb_outcome"
#: Log record attribute on the failure line of a task a stop request ended (its exception is
#: dropped from the record by then).
STOPPED_MARK = "kfalb_stopped"

#: Prefect's run loggers: task and flow engines log a failure there with its traceback (and the
#: engine's entry point its own line about the flow's exception).
RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs", "prefect.engine")
#: How Prefect 3.9's engine lines end when `run_flow` re-raises the exception of a Failed flow
#: run: "Engine execution exited with unexpected exception" (prefect/flow_engine.py `run_flow`)
#: and "Execution of flow run '<id>' exited with unexpected exception" (prefect/engine.py).
ENGINE_RERAISE = "exited with unexpected exception"


class ExpectedErrorsOneLine(logging.Filter):
    """Drop the traceback of a record whose exception is one of ours (a `KfalbError`).

    Prefect's engines log every failed task or flow run with `exc_info`; for an error we raise on
    purpose (a wait ran out, drift was found, a preflight refusal) the message says everything and
    the traceback only hides it. A bug (any other exception) keeps its traceback. A stop the user
    asked for (`Interrupted`) is logged as a warning: nothing went wrong.

    Prefect 3.9's engine entry point (`python -m prefect.engine`, how a worker runs a deployment)
    calls `run_flow(..., error_logger=run_logger)`, which re-raises a Failed run's exception and
    logs it once more as "Engine execution exited with unexpected exception" (ERROR). For an
    outcome of ours the run already ended Failed with its message logged once, so that record is
    dropped; for a bug it stays.
    """

    def __init__(self) -> None:
        super().__init__()
        #: Task runs that stopped on a stop request: their "Finished in state Failed" line too
        #: is a warning (it carries no exception, only the run's id).
        self._stopped: deque[str] = deque(maxlen=1000)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, KfalbError):
            run = self._run_of(record)
            if (run and run in self._stopped) or (run and interrupt.stop_requested()):
                _as_warning(record)  # a task stopped (or never started) on the user's request
            return True
        if isinstance(record.msg, str) and record.msg.endswith(ENGINE_RERAISE):
            return False
        record.exc_info = None
        record.exc_text = None
        if isinstance(error, Interrupted):
            if self._run_of(record):
                self._stopped.append(self._run_of(record))
            _as_warning(record)
            setattr(record, STOPPED_MARK, True)  # the console folds such lines into one
        return True

    @staticmethod
    def _run_of(record: logging.LogRecord) -> str:
        return str(getattr(record, "task_run_id", "") or "")


def _as_warning(record: logging.LogRecord) -> None:
    if record.levelno > logging.WARNING:
        record.levelno, record.levelname = logging.WARNING, "WARNING"


def install_one_line_errors() -> None:
    """Put the filter on Prefect's run loggers (once per process), so every handler (the API
    handler that feeds the UI, the console) sees the one-line form."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ExpectedErrorsOneLine) for f in logger.filters):
            logger.addFilter(ExpectedErrorsOneLine())


def expected_outcomes(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a flow function (below `@flow`): a `KfalbError` ends the run as a Failed state
    with the error's message, logged once as one line, instead of a raised exception with a
    traceback. Calling the flow still raises the same error (the state carries it), so callers
    and `kfalb` keep their exit codes; `return_state=True` gets the Failed state. A stop the
    user asked for (`Interrupted`) ends the run Cancelled instead, with a warning.
    """
    install_one_line_errors()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> Any:
        tolerate_busy_server()  # the run's client: a server busy a moment costs ms, not 2 s
        try:
            return fn(*args, **kwargs)
        except KfalbError as error:
            if FlowRunContext.get() is None:  # called as a plain function (`flow.fn`): raise
                raise
            if isinstance(error, Interrupted):  # the user stopped it: a cancelled run
                get_run_logger().warning("%s", error.message, extra={OUTCOME_MARK: True})
                return Cancelled(message=error.message, data=error)
            get_run_logger().error("%s", error.message, extra={OUTCOME_MARK: True})
            return failed(error)

    _resolve_signature(run, fn)
    return run  # returning a State is how a flow run ends Failed without raising


def _resolve_signature(wrapper: Callable[..., Any], fn: Callable[..., Any]) -> None:
    """Give the wrapper the function's signature with its annotations resolved: Prefect resolves
    string annotations in the wrapper's module (this one), where the flow's types are unknown."""
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except NameError:
        return  # a name defined later in the flow's module: leave the strings to Prefect
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=hints.get("return", signature.return_annotation)
    )
    wrapper.__annotations__ = hints


def failed(error: KfalbError) -> State[Any]:
    """The state a flow returns for an expected error (the error is its result): Cancelled when
    a reviewer rejected the plan (nothing is wrong, nothing was applied), else Failed."""
    if isinstance(error, PlanRejected):
        return Cancelled(message=error.message, data=error)
    return Failed(message=error.message, data=error)
