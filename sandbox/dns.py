"""The sandbox DNS server: answers from Route53 data on 127.0.0.1 as the public DNS tree would."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from sandbox.dnsserver.answers import RR, Answer, Rcode
from sandbox.dnsserver.propagation import PropagationTracker
from sandbox.dnsserver.resolution import DnsView
from sandbox.dnsserver.route53 import Route53BackendSource
from sandbox.dnsserver.wire import ZONE_OPTION, WireServer
from sandbox.dnsserver.zones import (
    AliasTarget,
    CombinedZoneSource,
    Record,
    StaticZoneSource,
    Zone,
    ZoneSource,
)

__all__ = [
    "RR",
    "ZONE_OPTION",
    "AliasTarget",
    "Answer",
    "CombinedZoneSource",
    "DnsServer",
    "Rcode",
    "Record",
    "Route53BackendSource",
    "StaticZoneSource",
    "Zone",
    "ZoneSource",
]

logger = logging.getLogger(__name__)


def _every_alb_exists(_name: str) -> bool:
    return True


class DnsServer:
    """One UDP+TCP socket playing every authoritative server and the recursive resolver at once.

    On the wire a query is answered as a recursive resolver would (start at the top zones,
    follow delegations, CNAME chains and aliases); with the EDNS option ``ZONE_OPTION`` carrying
    a zone id or name, it is answered as that zone's authoritative servers would (referrals).
    Names under ``.elb.amazonaws.com`` resolve to ``alb_address`` while ``alb_exists(name)``;
    the hosted zones' name server names (``ns-2048.awsdns-64.com``) resolve to ``host``.
    A record set change is served ``propagation_delay`` seconds after it first appears.

    Args:
        source: the hosted zones, read on every query.
        host: address to listen on.
        port: port for both UDP and TCP; 0 picks a free one.
        propagation_delay: seconds before a new or changed record set is served.
        alb_exists: tells whether an ALB DNS name (no trailing dot) exists; default: all do.
        alb_address: the address ALB names and aliases to them resolve to, or a function
            of the ALB's DNS name giving each ALB its own (sandbox.httpsendpoint.addresses).
        clock: monotonic seconds; tests pass a fake one to step through propagation.
    """

    def __init__(
        self,
        source: ZoneSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        propagation_delay: float = 0.0,
        alb_exists: Callable[[str], bool] | None = None,
        alb_address: str | Callable[[str], str] = "127.0.0.1",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._host, self._port = host, port
        self._delay = propagation_delay
        self._alb_exists = alb_exists or _every_alb_exists
        self._alb_address = alb_address
        self._tracker = PropagationTracker(propagation_delay, clock)
        self._wire: WireServer | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        #: Seconds between looks at the zones (each reads and normalises every zone: a fleet's
        #: benchmark, which changes nothing, lets it idle).
        self.poll_interval = min(max(propagation_delay / 10, 0.05), 0.25)

    def start(self) -> DnsServer:
        """Bind, take the current zones as already propagated, and serve in background threads."""
        if self._wire is not None:
            return self
        self._observe()
        self._wire = WireServer(self._host, self._port, self._answer)
        self._wire.start()
        if self._delay > 0:
            # Watch the source between queries so a change's clock starts when it is made.
            self._stop.clear()
            self._poller = threading.Thread(target=self._poll, name="sandbox-dns-poll", daemon=True)
            self._poller.start()
        logger.info("sandbox DNS listening on %s:%d (UDP, TCP)", *self._wire.address)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None
        if self._wire is not None:
            self._wire.stop()
            self._wire = None

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._wire is None:
            raise RuntimeError("the DNS server is not started")
        return self._wire.address

    @property
    def nameserver(self) -> str:
        """``host:port``, the form of ``KFALB_DNS_NAMESERVERS``."""
        host, port = self.address
        return f"{host}:{port}"

    def resolve(self, name: str, rtype: str = "A") -> Answer:
        """The full answer a recursive resolver would give."""
        return self._view().resolve(name, rtype)

    def resolve_at(self, name: str, rtype: str, zone: str) -> Answer:
        """The answer of the authoritative servers of ``zone`` (hosted zone id or name).

        A zone rather than a name server names the servers because moto gives every zone the
        same four name servers, so a server name could not tell a parent zone from its child.
        """
        return self._view().resolve_at(name, rtype, zone)

    def lookup(self, name: str, rtype: str = "A") -> list[str]:
        """The values a resolver finds for ``name`` (``[]`` for NXDOMAIN, NODATA or failure)."""
        answer = self.resolve(name, rtype)
        return answer.values(rtype) if answer.rcode == Rcode.NOERROR else []

    def alb_for(self, name: str) -> str | None:
        """The ALB DNS name that ``name`` points to (alias or CNAME chain), or None.

        The HTTPS endpoint's route table uses it to find which ALB a server name reaches.
        """
        return self._view().elb_target(name)

    def _answer(self, qname: str, qtype: str, zone: str | None) -> Answer:
        view = self._view()
        return view.resolve(qname, qtype) if zone is None else view.resolve_at(qname, qtype, zone)

    def _observe(self) -> list[Zone]:
        return self._tracker.visible([zone.normalised() for zone in self._source.zones()])

    def _view(self) -> DnsView:
        return DnsView(
            self._observe(),
            alb_exists=self._alb_exists,
            alb_address=self._alb_address,
            ns_address=self._host,
        )

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self._observe()
            except Exception:
                logger.exception("reading the DNS zone source failed")
