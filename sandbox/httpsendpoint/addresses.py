"""Each ALB's own address, as AWS gives each load balancer its own: a loopback address derived
from its DNS name, served by the HTTPS endpoint, so a request through one ALB's address reaches
that ALB and no other. Where the host cannot serve it (only 127.0.0.1 on its loopback, or the
port taken there), that ALB falls back to the endpoint's one address, routed by server name."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

from sandbox.httpsendpoint.routes import normal_host

logger = logging.getLogger(__name__)

Serve = Callable[[str, str], bool]  # (address, ALB) -> the HTTPS endpoint now answers there


def derived_address(name: str) -> str:
    """127.1.0.0 - 127.254.255.255, from the ALB's DNS name (stable across runs)."""
    digest = hashlib.sha256(normal_host(name).removeprefix("dualstack.").encode()).digest()
    return f"127.{1 + digest[0] % 254}.{digest[1]}.{digest[2]}"


class AlbAddresses:
    """ALB DNS name <-> its own address, made servable on first use (a DNS answer)."""

    def __init__(self, fallback: str = "127.0.0.1") -> None:
        self.fallback = fallback
        self._serve: Serve | None = None
        self._by_name: dict[str, str] = {}
        self._by_address: dict[str, str] = {}
        self._lock = threading.Lock()

    def attach(self, serve: Serve) -> None:
        """Where addresses are served from now on (the started HTTPS endpoint)."""
        with self._lock:
            self._serve = serve

    def address_of(self, name: str) -> str:
        """The ALB's own address (served from now on), or the fallback one."""
        bare = normal_host(name).removeprefix("dualstack.")
        with self._lock:
            known = self._by_name.get(bare)
            if known is not None:
                return known
            address = derived_address(bare)
            taken = self._by_address.get(address)
            if self._serve is None or (taken is not None and taken != bare):
                return self.fallback  # not served yet, or a (most unlikely) collision
            if not self._serve(address, bare):
                logger.warning("ALB %s answers on %s: %s cannot be served on this host",
                               bare, self.fallback, address)  # fmt: skip
                address = self.fallback
            self._by_name[bare] = address
            if address != self.fallback:
                self._by_address[address] = bare
            return address

    def name_at(self, address: str) -> str | None:
        """The ALB whose own address this is (None: the shared fallback address)."""
        with self._lock:
            return self._by_address.get(address)
