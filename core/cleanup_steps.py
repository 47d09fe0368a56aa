"""What cleanup's removals did, kind by kind (pure): done, failed (with why), or not tried
because a kind removed before it did not finish."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What the removals did: the failed kinds with their error, the skipped ones with why."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.failed and not self.skipped

    def reasons(self) -> dict[str, str]:
        """Why the resources of each kind may be left: its removal's failure or skip."""
        found = {kind: f"delete failed: {why}" for kind, why in self.failed.items()}
        return {**found, **self.skipped}


def outcome_summary(outcome: Outcome) -> str:
    """The failed and skipped kinds in one sentence (for the error ending the run)."""
    parts = [f"{kind} failed: {why}" for kind, why in outcome.failed.items()]
    parts += [f"{kind} {why}" for kind, why in outcome.skipped.items()]
    return "; ".join(parts)
