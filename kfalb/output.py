"""The command's console: one line per step, progress lines and warnings; Prefect's chatter hidden
(`-v` shows every log line instead). Lines go to stderr, so stdout stays for results and JSON."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from core.errors import Interrupted, KfalbError
from tasks import interrupt

#: Log record attributes set by the project (tasks.waits and flows.outcomes; kept as strings
#: here so the command needs no import of those layers to configure its console).
PROGRESS_MARK = "kfalb_progress"
OUTCOME_MARK = "kfalb_outcome"
STOPPED_MARK = "kfalb_stopped"

_FINISHED = "Finished in state "
_FAILED = "Task run failed with exception"
_FLOW_CHATTER = ("Beginning flow run", "View at ", _FINISHED, "Encountered exception during")
#: Task names of reads, folded into one line per phase (the observe_ and find_ verbs).
READ_TASKS = ("observe_", "observe-", "find_", "find-")
#: Libraries whose INFO lines are transport chatter at every level of detail.
NOISY = ("httpx", "httpcore", "werkzeug", "botocore", "urllib3", "kubernetes")


class StepConsole(logging.Handler):
    """Writes a task's outcome as one line when it finishes: its name and its last message.

    Everything else a task logs is held back; wait progress lines (marked), warnings and errors of
    a bug are written at once; the flow's own lines are written, Prefect's state lines are not.
    Reads (observe and look-up tasks) are folded into one line per phase, written before the next
    line: "✓ observed: 23 reads in 1.4 s". A task stopped by Ctrl-C adds no line: the command
    says once that it was interrupted.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(logging.INFO)
        # A formatter marks this as the user's handler: Prefect's logging setup then leaves the
        # root logger to it instead of adding its own console handler.
        self.setFormatter(logging.Formatter("%(message)s"))
        self._stream = stream  # None: the process's stderr at each write (tests swap it)
        self._last: dict[str, str] = {}
        self._errors: dict[str, str] = {}
        self._interrupted = False  # a task was stopped by Ctrl-C: failures after it are quiet
        self._reads = 0
        self._phase_start: float | None = None  # when the line before the reads was written
        self._reads_until = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._phase_start is None:
                self._phase_start = record.created
            line = self.line(record)
            if line is not None or record.name == "prefect.flow_runs":
                self._fold_reads()  # the reads so far were the phase before this line
            if line is not None:
                self._write(line)
                self._phase_start = record.created
        except Exception:
            self.handleError(record)

    def line(self, record: logging.LogRecord) -> str | None:
        """The console line for a record, or None to hold it back."""
        message = record.getMessage()
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
            return None  # the client's housekeeping
        if record.levelno >= logging.WARNING:
            return self._plain(record, message)
        return None

    def _fold_reads(self) -> None:
        if self._reads:
            took = max(0.0, self._reads_until - (self._phase_start or self._reads_until))
            reads = "1 read" if self._reads == 1 else f"{self._reads} reads"
            self._write(f"  ✓ observed: {reads} in {took:.1f} s")
            self._phase_start, self._reads = self._reads_until, 0

    def _write(self, line: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def _task_line(self, record: logging.LogRecord, message: str) -> str | None:
        run = str(getattr(record, "task_run_id", ""))
        task = str(getattr(record, "task_name", "") or "task")
        if message.startswith(_FINISHED):
            state = message[len(_FINISHED) :]
            last, error = self._last.pop(run, ""), self._errors.pop(run, "")
            stopping = self._interrupted or interrupt.stop_requested()
            if stopping and not state.startswith("Completed"):
                return None  # stopped, or never started: the command says once it stopped
            if state.startswith("Completed") and task.startswith(READ_TASKS):
                self._reads += 1
                self._reads_until = record.created
                return None
            if state.startswith("Completed"):
                return f"  ✓ {task}" + (f": {last}" if last else "")
            return f"  ✗ {task}: {error or state}"
        if message.startswith(_FAILED):
            raised = record.exc_info[1] if record.exc_info else None
            if isinstance(raised, Interrupted) or getattr(record, STOPPED_MARK, False):
                self._interrupted = True
                return None
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
