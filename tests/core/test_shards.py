"""A fleet's shards: every stack once, in order, sizes as even as can be."""

from __future__ import annotations

from core.shards import split


def test_shards_hold_every_stack_once_in_order_and_differ_by_one_at_most() -> None:
    stacks = [f"s{i}" for i in range(10)]
    parts = split(stacks, 3)
    assert parts == [stacks[0:4], stacks[4:7], stacks[7:10]]
    assert split(stacks, 1) == [stacks]


def test_more_shards_than_stacks_gives_one_stack_each_and_none_empty() -> None:
    assert split(["a", "b"], 5) == [["a"], ["b"]]
    assert split([], 4) == []
