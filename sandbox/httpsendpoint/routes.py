"""Which ALB answers for a server name: the protocol the HTTPS endpoint asks, and a static table."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

CertificateNames = Sequence[str]


def normal_host(name: str) -> str:
    """Host names compared as DNS does: lower case, no trailing dot."""
    return name.strip().rstrip(".").lower()


@runtime_checkable
class RouteTable(Protocol):
    """Which ALB answers for a server name (SNI or Host header).

    ``route(host)`` returns the DNS names (domain and SANs) of the ACM certificate on the HTTPS
    listener of the ALB that serves ``host``, or None when no ALB serves it. ``host`` comes
    lower-cased, without a trailing dot.
    """

    def route(self, host: str) -> CertificateNames | None: ...


class StaticRouteTable:
    """Routes held in memory: host, or ``*.domain`` pattern, -> certificate names."""

    def __init__(self, routes: Mapping[str, CertificateNames] | None = None) -> None:
        self._routes = {normal_host(k): list(v) for k, v in (routes or {}).items()}
        self._lock = threading.Lock()

    def set(self, host: str, names: CertificateNames) -> None:
        with self._lock:
            self._routes[normal_host(host)] = list(names)

    def remove(self, host: str) -> None:
        with self._lock:
            self._routes.pop(normal_host(host), None)

    def route(self, host: str) -> CertificateNames | None:
        name = normal_host(host)
        parent = name.split(".", 1)[1] if "." in name else ""
        with self._lock:
            return self._routes.get(name) or self._routes.get("*." + parent)
