"""The command's quiet console: one line per task, progress lines at once, Prefect's state lines
and the tracebacks of expected errors held back, a bug's traceback shown."""

from __future__ import annotations

import io
import logging

from core.errors import Interrupted, WaitTimeout
from kfalb.output import OUTCOME_MARK, PROGRESS_MARK, STOPPED_MARK, StepConsole


def _record(name: str, message: str, *, level: int = logging.INFO, error: BaseException | None = None,
            run: str = "r1", task: str = "ensure-zone", **extra: object) -> logging.LogRecord:  # fmt: skip
    record = logging.LogRecord(name, level, __file__, 1, message, (),
                               (type(error), error, None) if error else None)  # fmt: skip
    record.__dict__.update({"task_run_id": run, "task_name": task, **extra})
    return record


def _console(*records: logging.LogRecord) -> list[str]:
    stream = io.StringIO()
    console = StepConsole(stream)
    for record in records:
        console.handle(record)
    return stream.getvalue().splitlines()


def test_one_line_per_task_with_its_last_message() -> None:
    lines = _console(
        _record("prefect.flow_runs", "Beginning flow run 'x' for flow 'setup-load-balancer'"),
        _record("prefect.task_runs", "Looked up zone"),
        _record("prefect.task_runs", "Created hosted zone Z1 for platform.example.com"),
        _record("prefect.task_runs", "Finished in state Completed()"),
        _record("prefect.task_runs", "Finished in state Completed()", run="r2", task="check-https"),
        _record("prefect.flow_runs", "Kubeflow is served at https://k/"),
        _record("prefect.flow_runs", "Finished in state Completed()"),
        _record("prefect", "Stopping temporary server on http://127.0.0.1:8000"),
    )
    assert lines == [
        "  ✓ ensure-zone: Created hosted zone Z1 for platform.example.com",
        "  ✓ check-https",
        "Kubeflow is served at https://k/",
    ]


def test_progress_lines_show_at_once() -> None:
    lines = _console(_record("prefect.task_runs", "Still waiting for X (20s of 900s): PENDING",
                             **{PROGRESS_MARK: True}))  # fmt: skip
    assert lines == ["    … Still waiting for X (20s of 900s): PENDING"]


def test_an_expected_failure_is_one_step_line_and_no_traceback() -> None:
    error = WaitTimeout("Timed out after 5s waiting for X; last seen: nothing")
    lines = _console(
        _record(
            "prefect.task_runs",
            "Task run failed with exception: WaitTimeout(...)",
            level=logging.ERROR,
            error=error,
        ),  # fmt: skip
        _record(
            "prefect.task_runs",
            "Finished in state Failed('Task run encountered ...')",
            level=logging.ERROR,
        ),  # fmt: skip
        _record("prefect.flow_runs", str(error), level=logging.ERROR, **{OUTCOME_MARK: True}),
        _record("prefect.flow_runs", "Finished in state Failed('Timed out')"),
    )
    assert lines == ["  ✗ ensure-zone: Timed out after 5s waiting for X; last seen: nothing"]


def test_a_bug_shows_its_traceback() -> None:
    try:
        raise KeyError("cluster")
    except KeyError as caught:
        error = caught
    record = _record("prefect.task_runs", "Task run failed with exception: KeyError('cluster')",
                     level=logging.ERROR, error=error)  # fmt: skip
    record.exc_info = (KeyError, error, error.__traceback__)
    text = "\n".join(_console(record))
    assert "Traceback (most recent call last)" in text
    assert "KeyError: 'cluster'" in text


def test_retries_and_warnings_are_one_line_each() -> None:
    lines = _console(
        _record(
            "prefect.task_runs",
            "Task run failed with exception: X - Retry 1/3 will start 1 second(s) from now",
            level=logging.ERROR,
            error=WaitTimeout("throttled"),
        ),  # fmt: skip
        _record("prefect.task_runs", "Policy has an old default version", level=logging.WARNING),
        _record("botocore.credentials", "Found credentials in environment variables."),
    )
    assert lines == [
        "  ↻ ensure-zone: throttled (retrying)",
        "  ! ensure-zone: Policy has an old default version",
    ]


def test_a_long_outcome_is_cut_to_one_short_line() -> None:
    lines = _console(
        _record("prefect.task_runs", "Controller installed: " + "x" * 500 + "\nsecond line"),
        _record("prefect.task_runs", "Finished in state Completed()"),
    )
    assert len(lines) == 1
    assert lines[0].endswith("…")
    assert len(lines[0]) < 200


def test_reads_are_folded_into_one_line_per_phase() -> None:
    def read(run: str, task: str, at: float) -> logging.LogRecord:
        return _record("prefect.task_runs", "Finished in state Completed()", run=run, task=task,
                       created=at)  # fmt: skip

    lines = _console(
        _record("prefect.flow_runs", "Holding the lock of stack s", created=100.0),
        read("r1", "observe_hosted_zone", 100.4),
        read("r2", "observe_role", 100.9),
        read("r3", "observe_record_sets", 101.4),
        _record(
            "prefect.flow_runs", "Stack s: 2 to create, 0 to change, 21 in place", created=101.5
        ),
        _record("prefect.task_runs", "Created hosted zone Z1", run="r4", created=102.0),
        _record("prefect.task_runs", "Finished in state Completed()", run="r4", created=102.0),
        read("r5", "observe_hosted_zone", 103.0),
        _record("prefect.flow_runs", "Finished in state Completed()", created=103.1),
    )
    assert lines == [
        "Holding the lock of stack s",
        "  ✓ observed: 3 reads in 1.4 s",
        "Stack s: 2 to create, 0 to change, 21 in place",
        "  ✓ ensure-zone: Created hosted zone Z1",
        "  ✓ observed: 1 read in 1.0 s",
    ]


def test_a_task_stopped_by_ctrl_c_adds_no_line() -> None:
    stopped = Interrupted("interrupted (SIGINT): stopped before AWS route53:CreateHostedZone")
    lines = _console(
        _record(
            "prefect.task_runs",
            "Task run failed with exception: Interrupted(...)",
            level=logging.WARNING,
            error=stopped,
        ),  # fmt: skip
        _record("prefect.task_runs", "Finished in state Failed('...')", level=logging.WARNING),
        # The run logger's filter drops the exception and marks the record instead.
        _record(
            "prefect.task_runs",
            "Task run failed with exception: Interrupted(...)",
            level=logging.WARNING,
            run="r2",
            **{STOPPED_MARK: True},
        ),  # fmt: skip
        _record("prefect.task_runs", "Finished in state Failed('...')", run="r2"),
        # A task that waited for a stopped one never ran: no line either.
        _record(
            "prefect.task_runs",
            "Finished in state NotReady('Upstream task run ...')",
            run="r3",
            level=logging.ERROR,
        ),  # fmt: skip
        # The call in flight finished: its step is done and shown.
        _record("prefect.task_runs", "Created hosted zone Z1", run="r4"),
        _record("prefect.task_runs", "Finished in state Completed()", run="r4"),
    )
    assert lines == ["  ✓ ensure-zone: Created hosted zone Z1"]
