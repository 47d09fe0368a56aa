"""The walk's recorder: a result handed to it is saved in the stack's block in the background,
in order, without holding up the walk; results handed while a save is on its way go in the next
save together; a flush waits for the saves and raises a failed one."""

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
        self.saving = threading.Event()
        self.fail_on = fail_on

    def _save(self, record: StackRecord) -> StackRecord:
        self.saving.set()
        assert self.go.wait(timeout=30), "the test never let the save go"
        ids = [item.id for item in record.resources]
        if self.fail_on in ids:
            raise RuntimeError(f"block save refused with {self.fail_on}")
        self.saved.append(ids)
        self._record = record
        return record


def _zone(zone_id: str) -> StackResource:
    return StackResource(kind=Kind.HOSTED_ZONE, id=zone_id, name="platform.example.com", owned=True)


def test_later_returns_before_the_save_and_what_finishes_meanwhile_goes_in_one_next_save() -> None:
    store = _Blocks()
    recorder = Recorder(store)
    recorder.later(_zone("Z1"))
    assert store.saving.wait(timeout=30)  # the writer took Z1 and its save is on its way
    recorder.later(None)  # nothing to record: no save of its own
    recorder.later(_zone("Z2"))
    recorder.later(_zone("Z3"))
    assert store.saved == []  # the walk went on while the first save is held
    store.go.set()
    final = recorder.flush()
    # Two saves, not three: Z2 and Z3 waited for the next one together, in their order.
    assert store.saved == [["Z1"], ["Z1", "Z2", "Z3"]]
    assert [item.id for item in final.resources] == ["Z1", "Z2", "Z3"]
    assert recorder.flush() is final  # nothing pending: nothing saved again


def test_a_failed_background_save_is_raised_by_the_flush_after_the_others_finish() -> None:
    store = _Blocks(fail_on="Z2")
    recorder = Recorder(store)
    recorder.later(_zone("Z1"))
    assert store.saving.wait(timeout=30)
    recorder.later(_zone("Z2"))  # saved (and refused) in the second save
    store.go.set()
    with pytest.raises(RuntimeError, match="block save refused with Z2"):
        recorder.flush()
    recorder.later(_zone("Z3"))
    final = recorder.flush()
    # The save after the failed one still ran: a crash later leaves what was made recorded.
    assert store.saved[0] == ["Z1"]
    assert store.saved[-1] == ["Z1", "Z3"]
    assert [item.id for item in final.resources] == ["Z1", "Z3"]


def test_a_forgotten_result_removes_its_resources_in_the_same_save_as_what_came_before() -> None:
    from core.state import Forgotten

    store = _Blocks()
    recorder = Recorder(store)
    recorder.later(_zone("Z1"))
    assert store.saving.wait(timeout=30)
    recorder.later(_zone("Z2"))
    recorder.later(Forgotten(entries=((Kind.HOSTED_ZONE, "Z1"),)))
    recorder.later(_zone("Z3"))
    store.go.set()
    final = recorder.flush()
    # In the order given: Z2 added, Z1 forgotten, Z3 added — one save after the first.
    assert store.saved == [["Z1"], ["Z2", "Z3"]]
    assert [item.id for item in final.resources] == ["Z2", "Z3"]
