"""The command's console: one line per step, progress lines and warnings; Prefect's chatter hidden
(`-v` shows every log line instead). Lines go to stderr, so stdout stays for results and JSON."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from core.errors import KfalbError, WaitTimeout
from core.settings import get_settings
from core.waiting import Progress, wait_until

#: Log record attributes set by the project (tasks.waits and flows.outcomes; kept as strings
#: here so the command needs no import of those layers to configure its console).
PROGRESS_MARK = "kfalb_progress"
OUTCOME_MARK = "kfalb_outcome"

_FINISHED = "Finished in state "
_FAILED = "Task run failed with exception"
_FLOW_CHATTER = ("Beginning flow run", "View at ", _FINISHED, "Encountered exception during")
_SERVER_START = "Starting temporary server on "
_SERVER_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
#: Libraries whose INFO lines are transport chatter at every level of detail.
NOISY = ("httpx", "httpcore", "werkzeug", "botocore", "urllib3", "kubernetes")


class StepConsole(logging.Handler):
    """Writes a task's outcome as one line when it finishes: its name and its last message.

    Everything else a task logs is held back; wait progress lines (marked), warnings and errors of
    a bug are written at once; the flow's own lines are written, Prefect's state lines are not.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(logging.INFO)
        # A formatter marks this as the user's handler: Prefect's logging setup then leaves the
        # root logger to it instead of adding its own console handler.
        self.setFormatter(logging.Formatter("%(message)s"))
        self.stream = stream or sys.stderr
        self._last: dict[str, str] = {}
        self._errors: dict[str, str] = {}
        self._clock, self._sleep = clock, sleep
        self._server_up = threading.Event()
        self.server_watch: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.line(record)
            if line is not None:
                self._write(line)
        except Exception:
            self.handleError(record)

    def line(self, record: logging.LogRecord) -> str | None:
        """The console line for a record, or None to hold it back."""
        message = record.getMessage()
        if record.name.startswith("prefect.") and record.name.endswith("_runs"):
            self._server_up.set()  # a run began: the server answers
        if record.name == "prefect" and message.startswith(_SERVER_START):
            self._watch_server_start()
            return None
        if getattr(record, PROGRESS_MARK, False):
            return f"    … {message}"
        if getattr(record, OUTCOME_MARK, False):
            return None  # the command prints the outcome itself, with its exit code
        if record.name == "prefect.task_runs":
            return self._task_line(record, message)
        if record.name == "prefect.flow_runs":
            if message.startswith(_FLOW_CHATTER) and not _is_bug(record):
                return None
            return self._plain(record, message)
        if record.name.startswith("prefect") and record.levelno < logging.ERROR:
            return None  # the client's and the temporary server's housekeeping
        if record.levelno >= logging.WARNING:
            return self._plain(record, message)
        return None

    def _watch_server_start(self) -> None:
        """Prefect starts its temporary server (no PREFECT_API_URL): under load that takes a
        minute or more, so say so and tell at the progress cadence that it is still starting."""
        if self.server_watch is None:
            self.server_watch = threading.Thread(
                target=self._wait_for_server, name="kfalb-server-start", daemon=True
            )
            self.server_watch.start()

    def _wait_for_server(self) -> None:
        progress = Progress(report=lambda line: self._write(f"    … {line}"),
                            interval=get_settings().progress_interval_seconds,
                            setting=_SERVER_TIMEOUT)  # fmt: skip
        try:
            wait_until(self._server_up.is_set, bool, what="Prefect's temporary server to start",
                       timeout=float(os.environ.get(_SERVER_TIMEOUT, "20")), interval=1.0,
                       max_interval=1.0, progress=progress, clock=self._clock, sleep=self._sleep,
                       describe=lambda _: "not answering yet (PREFECT_API_URL set to a running "
                       "server avoids this start)")  # fmt: skip
        except WaitTimeout:
            pass  # Prefect fails the command itself, with its own message

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _task_line(self, record: logging.LogRecord, message: str) -> str | None:
        run = str(getattr(record, "task_run_id", ""))
        task = str(getattr(record, "task_name", "") or "task")
        if message.startswith(_FINISHED):
            state = message[len(_FINISHED) :]
            last, error = self._last.pop(run, ""), self._errors.pop(run, "")
            if state.startswith("Completed"):
                return f"  ✓ {task}" + (f": {last}" if last else "")
            return f"  ✗ {task}: {error or state}"
        if message.startswith(_FAILED):
            raised = record.exc_info[1] if record.exc_info else None
            text = str(raised) if raised is not None else message
            if "Retry" in message and "will start" in message:
                return f"  ↻ {task}: {_first_line(text)} (retrying)"
            self._errors[run] = _first_line(text)
            return self._plain(record, message) if _is_bug(record) else None
        if record.levelno >= logging.WARNING:
            return f"  ! {task}: {message}"
        self._last[run] = _first_line(message)
        return None

    def _plain(self, record: logging.LogRecord, message: str) -> str:
        text = message
        if record.levelno >= logging.WARNING and record.levelno < logging.ERROR:
            text = f"warning: {message}"
        if _is_bug(record) and record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        return text


def _is_bug(record: logging.LogRecord) -> bool:
    """A failure with an exception that is not one of ours."""
    error = record.exc_info[1] if record.exc_info else None
    return error is not None and not isinstance(error, KfalbError)


#: Longest step outcome shown; the full message is in the run's logs (and with -v).
OUTCOME_WIDTH = 160


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= OUTCOME_WIDTH else line[: OUTCOME_WIDTH - 1] + "…"


def configure(*, verbose: bool, stream: TextIO | None = None) -> None:
    """Set up the process's console once, before Prefect is imported (Prefect keeps a root
    handler it finds and adds its own only for its server's loggers)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "kfalb_console", False):  # ours from an earlier call (tests call main)
            root.removeHandler(old)
    handler: logging.Handler = StepConsole(stream)
    if verbose:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.kfalb_console = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
