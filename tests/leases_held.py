"""Who holds a lock now, read through the lease engine's own read (what acquire and unlock see)."""

from __future__ import annotations

from prefect.client.orchestration import get_client

from core.lease import Lease
from tasks import leases


def held_lease(lock: leases.Lock) -> Lease | None:
    """The lease on `lock` now, or None when nobody holds it."""
    with get_client(sync_client=True) as client:
        stored = leases.read(client, lock)
    return stored.lease if stored else None
