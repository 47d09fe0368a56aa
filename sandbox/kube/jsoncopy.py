"""Copies of the API server's objects: JSON trees of dicts and lists (strings, numbers,
booleans and None are shared, being immutable), about five times faster than `copy.deepcopy`,
which the store paid on every read and write."""

from __future__ import annotations

import copy
from typing import TypeVar

T = TypeVar("T")

_SHARED = (str, int, float, bool, type(None))


def json_copy(value: T) -> T:
    """A copy of `value` that shares no dict or list with it."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [json_copy(item) for item in value]  # type: ignore[return-value]
    if isinstance(value, _SHARED):
        return value
    return copy.deepcopy(value)  # anything else (a tuple of dicts...): the general way
