"""A fleet split into shards for workers: contiguous, as even as can be, order kept."""

from __future__ import annotations


def split(stacks: list[str], shards: int) -> list[list[str]]:
    """`stacks` in at most `shards` parts whose sizes differ by one at most; no empty part."""
    count = max(1, min(shards, len(stacks)))
    size, extra = divmod(len(stacks), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        parts.append(stacks[start:end])
        start = end
    return [part for part in parts if part]
