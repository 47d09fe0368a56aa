"""When the controller looks at an object again: on a change of what it watches, after a
backoff that doubles with each failure, or after its resync period."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Schedule:
    """What the object looked like (`trigger`) and when it is due again."""

    trigger: str
    due: float
    failures: int = 0


def backoff(interval: float, failures: int, cap: float) -> float:
    """Seconds before the next try after `failures` failures in a row."""
    return float(min(interval * 2**failures, cap))
