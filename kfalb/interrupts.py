"""Ctrl-C and SIGTERM as Terraform takes them: the first stops the run at its next safe point, the
second exits at once.

The command runs in a thread of its own while the main thread only waits and takes the signals:
Prefect's flow engine installs its SIGTERM handler (which crashes the run) only in the main
thread, and a handler that merely sets the stop request (tasks.interrupt) never raises in the
middle of a call. What then stops the run: no new AWS or Kubernetes request starts, every wait
ends, the flows end Cancelled and release the stack's lock on the way out.
"""

from __future__ import annotations

import contextvars
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from kfalb.help_text import EXIT_INTERRUPTED
from tasks import interrupt

SIGNALS = (signal.SIGINT, signal.SIGTERM)

T = TypeVar("T")


class _Handler:
    """The signal handler: the first signal asks for a stop, the next exits at once."""

    def __init__(self, at_once: str) -> None:
        self.count = 0
        self.at_once = at_once

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            interrupt.request_stop(f"interrupted ({name})")
            _say(
                f"kfalb: {name}: stopping at the next safe point (the AWS or Kubernetes call in "
                "flight finishes and is recorded, the stack's lock is released); press Ctrl-C "
                "again to exit at once"
            )
            return
        _say(f"kfalb: {name} again: exiting at once. {self.at_once}")
        os._exit(EXIT_INTERRUPTED)  # no clean-up that could hang: that is what was asked for


def run_interruptible(command: Callable[[], T], *, at_once: str = "") -> T:
    """Run `command` in a thread while this (main) thread takes SIGINT and SIGTERM; return its
    result or raise its error. Outside the main thread it simply runs `command`."""
    if threading.current_thread() is not threading.main_thread():
        return command()
    interrupt.clear()
    outcome: dict[str, object] = {}
    context = contextvars.copy_context()  # Prefect's settings and contexts live in contextvars

    def body() -> None:
        try:
            outcome["result"] = context.run(command)
        except BaseException as error:  # handed to the main thread as it is
            outcome["error"] = error

    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    handler = _Handler(at_once)
    for sig in SIGNALS:
        signal.signal(sig, handler)
    worker = threading.Thread(target=body, name="kfalb-command", daemon=True)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)  # short joins: the signal handler runs between them
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
