"""An expected error ends a flow run as Failed with its message and no traceback, in the run's logs
too; a bug keeps its traceback; callers still get the error (and so their exit codes)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prefect import flow, task

from core.errors import DriftDetected, Interrupted, ResourceNotFound, WaitTimeout
from flows.outcomes import ExpectedErrorsOneLine, expected_outcomes


@task(name="wait-for-something")
def _waits(error: Exception) -> None:
    raise error


@flow(name="outcomes-demo")
@expected_outcomes
def _demo(kind: str = "timeout") -> str:
    """A flow that fails the way it is told to."""
    errors: dict[str, Exception] = {
        "timeout": WaitTimeout("Timed out after 5s waiting for X; raise KFALB_X_TIMEOUT_SECONDS"),
        "bug": ValueError("a bug"),
        "interrupt": Interrupted("interrupted: stopped before AWS route53:CreateHostedZone"),
    }
    if kind == "drift":
        raise DriftDetected("Stack s drifted: zone", items=("zone",))
    _waits(errors[kind])
    return "never"


def _logs(flow_run_id: object) -> list[tuple[str, str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    async def read() -> list[tuple[str, str]]:
        await APILogHandler.aflush()
        async with get_client() as client:
            found = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
        return [(str(log.level), log.message) for log in found]

    return asyncio.run(read())


def test_an_expected_error_is_one_line_in_the_run_logs_and_the_caller_gets_it(
    prefect_server: None,
) -> None:
    with pytest.raises(WaitTimeout, match="raise KFALB_X_TIMEOUT_SECONDS"):
        _demo("timeout")
    state = _demo("timeout", return_state=True)
    assert state.is_failed()
    assert state.message == "Timed out after 5s waiting for X; raise KFALB_X_TIMEOUT_SECONDS"
    messages = [message for _, message in _logs(state.state_details.flow_run_id)]
    assert not any("Traceback" in message for message in messages)
    assert any(
        m == "Timed out after 5s waiting for X; raise KFALB_X_TIMEOUT_SECONDS" for m in messages
    )


def test_an_error_the_flow_raises_itself_keeps_its_type(prefect_server: None) -> None:
    state = _demo("drift", return_state=True)
    with pytest.raises(DriftDetected) as caught:
        state.result()
    assert caught.value.items == ("zone",)


def test_a_bug_keeps_its_traceback(prefect_server: None) -> None:
    state = _demo("bug", return_state=True)
    assert state.is_failed()
    messages = [message for _, message in _logs(state.state_details.flow_run_id)]
    assert any("Traceback" in message and "ValueError: a bug" in message for message in messages)


def test_the_filter_strips_only_our_errors() -> None:
    def record(error: BaseException) -> logging.LogRecord:
        return logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, "failed", (),
                                 (type(error), error, None))  # fmt: skip

    ours, bug = record(ResourceNotFound("no stack")), record(KeyError("x"))
    ExpectedErrorsOneLine().filter(ours)
    ExpectedErrorsOneLine().filter(bug)
    assert ours.exc_info is None
    assert bug.exc_info is not None


def test_a_stop_the_user_asked_for_ends_the_run_cancelled_with_warnings_only(
    prefect_server: None,
) -> None:
    state = _demo("interrupt", return_state=True)
    assert state.is_cancelled()
    with pytest.raises(Interrupted, match="CreateHostedZone"):
        state.result()
    logs = _logs(state.state_details.flow_run_id)
    assert not [message for level, message in logs if int(level) >= logging.ERROR]
    assert not any("Traceback" in message for _, message in logs)
    assert (
        str(logging.WARNING),
        "interrupted: stopped before AWS route53:CreateHostedZone",
    ) in logs


def test_the_engine_line_about_an_expected_failure_is_dropped_a_bugs_kept(
    prefect_server: None, caplog: pytest.LogCaptureFixture
) -> None:
    # What a worker's flow-run process does (`python -m prefect.engine`): run_flow with the run's
    # logger as error_logger re-raises the Failed run's exception and logs it once more.
    from prefect.flow_engine import run_flow

    caplog.set_level(logging.INFO, logger="prefect")
    for kind, expected in (("drift", DriftDetected), ("bug", ValueError)):
        with pytest.raises(expected):
            run_flow(
                _demo,
                parameters={"kind": kind},
                error_logger=logging.getLogger("prefect.flow_runs"),
            )
    engine_lines = [
        r for r in caplog.records if r.getMessage().endswith("exited with unexpected exception")
    ]
    assert [type(r.exc_info[1]) for r in engine_lines if r.exc_info] == [ValueError]
