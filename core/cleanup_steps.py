"""Cleanup's steps as a small dependency graph: a failed step stops only what depends on it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from core.errors import KfalbError
from core.state import Kind


@dataclass(frozen=True)
class Step:
    """One deletion step: what it removes, what must have succeeded before it, and the work."""

    name: str
    kinds: tuple[Kind, ...]
    run: Callable[[], None]
    after: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What the steps did: the failed ones with their error, the skipped ones with the reason."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.failed and not self.skipped

    def reasons(self, steps: Iterable[Step]) -> dict[str, str]:
        """Why the resources of each kind may be left: per kind, its step's failure or skip."""
        found: dict[str, str] = {}
        for step in steps:
            why = (f"delete failed: {self.failed[step.name]}" if step.name in self.failed
                   else self.skipped.get(step.name))  # fmt: skip
            if why:
                for kind in step.kinds:
                    found.setdefault(kind.value, why)
        return found


def run_steps(
    steps: Iterable[Step],
    *,
    on_done: Callable[[Step], None] = lambda step: None,
    on_error: Callable[[Step, BaseException], None] = lambda step, error: None,
) -> Outcome:
    """Run the steps in order; one that fails (or whose prerequisite did not succeed) is noted
    and the others still run. Errors other than `Exception` (interrupts) are not caught."""
    outcome = Outcome()
    for step in steps:
        blocked = [name for name in step.after if name not in outcome.done]
        if blocked:
            outcome.skipped[step.name] = f"not tried: {', '.join(blocked)} did not finish first"
            continue
        try:
            step.run()
        except Exception as error:
            outcome.failed[step.name] = str(error) if isinstance(error, KfalbError) else repr(error)
            outcome.errors[step.name] = error
            on_error(step, error)
            continue
        outcome.done.append(step.name)
        on_done(step)
    return outcome


def outcome_summary(outcome: Outcome) -> str:
    """The failed and skipped steps in one sentence (for the error ending the run)."""
    parts = [f"{name} failed: {why}" for name, why in outcome.failed.items()]
    parts += [f"{name} {why}" for name, why in outcome.skipped.items()]
    return "; ".join(parts)
