"""The leases of the locks, pure: who holds one, until when, and when another run may take it
over. A stack's lock keeps its setup, cleanup and remediation apart; a cluster's lock keeps the
stacks of one cluster apart while they write the items they share (tasks/cluster_lock.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

#: Prefect state types of a flow run that can no longer be holding anything.
FINISHED_STATES = frozenset({"CRASHED", "FAILED", "CANCELLED", "COMPLETED"})
#: What the holder's flow run is when Prefect no longer knows it (deleted).
MISSING = "MISSING"


class Lease(BaseModel):
    """One run's hold on a lock; valid until `expires` unless renewed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    stack: str = Field(description="What the lock is of: a stack's name, or a cluster's key.")
    held_for: str = Field(
        default="", description="The stack whose run holds it (a cluster's lock); empty: itself."
    )
    token: str = Field(description="Unique per acquisition: tells two holders apart.")
    flow_run_id: str | None = Field(default=None, description="The holder's Prefect flow run.")
    flow_run_name: str = ""
    host: str = ""
    pid: int = 0
    since: datetime
    expires: datetime

    def renewed(self, now: datetime, duration: float) -> Lease:
        """The same lease, valid for `duration` seconds from now."""
        return self.model_copy(update={"expires": now + timedelta(seconds=duration)})

    def lapsed(self, now: datetime) -> bool:
        return now >= self.expires

    @property
    def holder(self) -> str:
        """The holder in words: its flow run (name and id), host and process."""
        run = (
            f"flow run {self.flow_run_name!r} ({self.flow_run_id})"
            if self.flow_run_id
            else "a process outside a flow run"
        )
        who = f"stack {self.held_for}'s {run}" if self.held_for else run
        return f"{who} on {self.host or '?'} pid {self.pid}"

    def describe(self, now: datetime) -> str:
        """Who holds the lock, since when and until when (for waiting logs and errors)."""
        left = (self.expires - now).total_seconds()
        until = f"in {left:.0f}s" if left >= 0 else f"lapsed {-left:.0f}s ago"
        return (
            f"held by {self.holder} since {self.since:%Y-%m-%d %H:%M:%S} UTC, lease until "
            f"{self.expires:%H:%M:%S} UTC ({until})"
        )


def new_lease(
    stack: str,
    *,
    token: str,
    now: datetime,
    duration: float,
    flow_run_id: str | None = None,
    flow_run_name: str = "",
    host: str = "",
    pid: int = 0,
    held_for: str = "",
) -> Lease:
    """A lease taken now, valid for `duration` seconds unless renewed."""
    return Lease(
        stack=stack,
        held_for=held_for,
        token=token,
        flow_run_id=flow_run_id,
        flow_run_name=flow_run_name,
        host=host,
        pid=pid,
        since=now,
        expires=now + timedelta(seconds=duration),
    )


def takeover_reason(lease: Lease, now: datetime, holder_state: str | None) -> str | None:
    """Why another run may take the lock over now, or None while the holder may still be alive.

    Args:
        lease: the lease as stored.
        now: the taker's time (UTC).
        holder_state: the Prefect state type of the holder's flow run (`MISSING` when Prefect
            does not know it, None when the lease names no flow run or it was not read).
    """
    if lease.lapsed(now):
        seconds = (now - lease.expires).total_seconds()
        return f"its lease lapsed {seconds:.0f}s ago (the holder stopped renewing it)"
    if holder_state == MISSING:
        return f"Prefect has no flow run {lease.flow_run_id}"
    if holder_state in FINISHED_STATES:
        return f"its flow run is {holder_state.title()}"
    return None


def renew_interval(duration: float) -> float:
    """How often a holder renews: three chances before the lease lapses."""
    return duration / 3
