"""A shard's deployment run, as the fleet's run reads it: its rows when it completed, else an
error row for each of its stacks naming the run and how it ended."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.states import Completed, Crashed


class _Run:
    def __init__(self, state: Any) -> None:
        self.name, self.state = "brave-otter", state


def test_a_completed_shard_gives_its_rows_and_a_crashed_one_an_error_for_each_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows import fleet_shards

    rows = [{"stack": "a", "result": "ok", "aws calls": "22"}]
    asked: list[tuple[str, dict[str, Any]]] = []

    def run(*, name: str, parameters: dict[str, Any], timeout: Any) -> _Run:
        asked.append((name, parameters))
        return _Run(
            Completed(data=rows) if parameters["stacks"] == ["a"] else Crashed(message="killed")
        )

    monkeypatch.setattr(fleet_shards, "run_deployment", run)
    options = {"remediate": False}
    assert fleet_shards._run_shard.fn("d/d", {**options, "stacks": ["a"]}) == rows
    failed = fleet_shards._run_shard.fn("d/d", {**options, "stacks": ["b", "c"]})
    assert [row["stack"] for row in failed] == ["b", "c"]
    assert {row["result"] for row in failed} == {"error: shard run brave-otter ended Crashed"}
    assert asked == [("d/d", {"remediate": False, "stacks": ["a"]}),
                     ("d/d", {"remediate": False, "stacks": ["b", "c"]})]  # fmt: skip
