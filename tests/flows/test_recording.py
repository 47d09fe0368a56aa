"""The walk's recorder: a result handed to it is saved in the stack's block in the background,
in order, without holding up the walk; a flush waits for the saves and raises a failed one."""

from __future__ import annotations

import threading

import pytest

from core.state import Kind, StackRecord, StackResource
from flows.recording import Recorder
from tasks.stack_block import StackStore

pytestmark = pytest.mark.unit


class _Blocks(StackStore):
    """A stack store whose saves go to a list instead of Prefect, held until `go` is set."""

    def __init__(self, *, fail_on: str = "") -> None:
        super().__init__(StackRecord(stack="rec"))
        self.saved: list[list[str]] = []
        self.go = threading.Event()
        self.fail_on = fail_on

    def _save(self, record: StackRecord) -> StackRecord:
        assert self.go.wait(timeout=30), "the test never let the save go"
        ids = [item.id for item in record.resources]
        if self.fail_on in ids:
            raise RuntimeError(f"block save refused with {self.fail_on}")
        self.saved.append(ids)
        self._record = record
        return record


def _zone(zone_id: str) -> StackResource:
    return StackResource(kind=Kind.HOSTED_ZONE, id=zone_id, name="platform.example.com", owned=True)


def test_later_returns_before_the_save_and_the_saves_keep_their_order() -> None:
    store = _Blocks()
    recorder = Recorder(store)
    recorder.later(_zone("Z1"))
    recorder.later(None)  # nothing to record: no save of its own
    recorder.later(_zone("Z2"))
    assert store.saved == []  # the walk went on while the first save is held
    store.go.set()
    final = recorder.flush()
    assert store.saved == [["Z1"], ["Z1", "Z2"]]
    assert [item.id for item in final.resources] == ["Z1", "Z2"]
    assert recorder.flush() is final  # nothing pending: nothing saved again


def test_a_failed_background_save_is_raised_by_the_flush_after_the_others_finish() -> None:
    store = _Blocks(fail_on="Z2")
    store.go.set()
    recorder = Recorder(store)
    recorder.later(_zone("Z1"))
    recorder.later(_zone("Z2"))
    recorder.later(_zone("Z3"))
    with pytest.raises(RuntimeError, match="block save refused with Z2"):
        recorder.flush()
    # The save after the failed one still ran: a crash later leaves what was made recorded.
    assert store.saved[0] == ["Z1"]
    assert store.saved[-1] == ["Z1", "Z3"]
