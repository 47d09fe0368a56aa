"""The sandbox's pod network: which local socket stands behind a pod IP and container port.

The stand-in gives pods made-up addresses (127.0.0.N, see ``endpoints.py``) and the real
container ports (9443 for the ALB controller's webhooks), which nothing on this machine listens
on. A webhook server started in the sandbox registers here, for the pods of one workload and one
container port, a callable giving the local address it really listens on; the API server dials
that address when it calls a webhook at such a pod. ``None`` (or nothing registered) means that
nothing listens in the pod: the call fails with the real ``connect: connection refused``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

Address = tuple[str, int]
AddressSource = Callable[[], Address | None]


def workload_of(pod_name: str) -> str:
    """The Deployment a sandbox pod belongs to (``<deployment>-<hash>-<index>``)."""
    parts = pod_name.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else pod_name


class PodNetwork:
    """Maps (namespace, workload, port) or (ip, port) of an endpoint to a local listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_workload: dict[tuple[str, str, int], AddressSource] = {}
        self._by_ip: dict[tuple[str, int], AddressSource] = {}

    def serve(self, *, namespace: str, workload: str, port: int, address: AddressSource) -> None:
        """Pods of Deployment ``namespace/workload`` listen on ``port`` at ``address()``."""
        with self._lock:
            self._by_workload[(namespace, workload, port)] = address

    def serve_ip(self, ip: str, port: int, address: AddressSource) -> None:
        """An endpoint without a pod (a hand-written Endpoints object) listens at ``address()``."""
        with self._lock:
            self._by_ip[(ip, port)] = address

    def forget(self, *, namespace: str, workload: str, port: int) -> None:
        with self._lock:
            self._by_workload.pop((namespace, workload, port), None)

    def dial(self, ip: str, port: int, target_ref: Mapping[str, Any] | None) -> Address | None:
        """The local address behind endpoint ``ip:port``, or None when nothing listens there."""
        with self._lock:
            source = None
            if target_ref and target_ref.get("kind") == "Pod":
                key = (
                    str(target_ref.get("namespace", "")),
                    workload_of(str(target_ref.get("name", ""))),
                    port,
                )
                source = self._by_workload.get(key)
            if source is None:
                source = self._by_ip.get((ip, port))
        return None if source is None else source()
