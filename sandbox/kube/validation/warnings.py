"""Warnings a request earns (``Warning: 299 - "..."`` response headers), collected per thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect the warnings raised while serving one request."""
    previous = getattr(_local, "sink", None)
    sink: list[str] = []
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = previous


def warn(text: str) -> None:
    """Add a warning to the current request (dropped when nothing collects)."""
    sink = getattr(_local, "sink", None)
    if sink is not None and text not in sink:
        sink.append(text)


def header_value(text: str) -> str:
    """The Warning header value kube-apiserver sends: code 299, no agent, a quoted text."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
