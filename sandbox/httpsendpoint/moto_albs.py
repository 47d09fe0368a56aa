"""ALBs and their listener certificates read from moto's in-process ELBv2 and ACM backends."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sandbox.httpsendpoint.routes import CertificateNames, normal_host

logger = logging.getLogger(__name__)

AlbFor = Callable[[str], str | None]  # server name -> ALB DNS name it points to (DnsServer.alb_for)


def find_alb(dns_name: str, account_id: str = "123456789012") -> Any | None:
    """moto's load balancer whose DNS name is ``dns_name``, in any region used so far."""
    from moto.elbv2.models import elbv2_backends

    wanted = normal_host(dns_name).removeprefix("dualstack.")
    account = elbv2_backends[account_id]
    # Only regions something touched are instantiated; asking for others would create them.
    for region in list(account.keys()):
        for balancer in list(account[region].load_balancers.values()):
            if normal_host(balancer.dns_name) == wanted:
                return balancer
    return None


def find_alb_in(dns_name: str, accounts: tuple[str, ...]) -> Any | None:
    """The load balancer of that DNS name in the first of `accounts` that holds one."""
    for account in accounts:
        found = find_alb(dns_name, account)
        if found is not None:
            return found
    return None


class MotoAlbExists:
    """``alb_exists`` for the DNS server: the name belongs to an ALB moto holds (in one of the
    accounts given)."""

    def __init__(self, account_id: str = "123456789012", *more_accounts: str) -> None:
        self._accounts = (account_id, *more_accounts)

    def __call__(self, dns_name: str) -> bool:
        return find_alb_in(dns_name, self._accounts) is not None


class MotoAlbRoutes:
    """A ``RouteTable`` over moto: DNS leads the name to an ALB; its HTTPS listener has the cert.

    Like an ALB, the listener picks by SNI among its certificates the first that covers the
    name, and otherwise presents its default (first) certificate.
    """

    def __init__(
        self, alb_for: AlbFor, account_id: str = "123456789012", *more_accounts: str
    ) -> None:
        self._alb_for = alb_for
        self._accounts = (account_id, *more_accounts)

    def route(self, host: str) -> CertificateNames | None:
        alb_name = self._alb_for(host)
        balancer = find_alb_in(alb_name, self._accounts) if alb_name else None
        return self._presented(balancer, host) if balancer is not None else None

    def route_at(self, alb_name: str, host: str) -> CertificateNames | None:
        """The certificate one ALB presents for `host` (a request to that ALB's own address);
        None when it has no HTTPS listener or is not active yet (it answers nothing)."""
        balancer = find_alb_in(alb_name, self._accounts)
        if balancer is None or getattr(balancer, "state", "active") != "active":
            return None
        return self._presented(balancer, host)

    def _presented(self, balancer: Any, host: str) -> CertificateNames | None:
        listener = next(
            (
                li
                for li in list(balancer.listeners.values())
                if li.protocol == "HTTPS" and li.certificates
            ),
            None,
        )
        if listener is None:
            return None
        candidates = [n for n in map(self._names, listener.certificates) if n]
        for names in candidates:
            if any(_covers(pattern, host) for pattern in names):
                return names
        return candidates[0] if candidates else None

    def _names(self, arn: str) -> list[str]:
        from moto.acm.models import acm_backends

        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "acm" or parts[4] not in self._accounts:
            return []
        try:  # the certificate's own account (an ALB uses certificates of its account)
            bundle = acm_backends[parts[4]][parts[3]].get_certificate(arn)
        except Exception:
            logger.info("listener certificate %s is gone", arn)
            return []
        names = [str(bundle.common_name), *(str(s) for s in bundle.sans)]
        return list(dict.fromkeys(normal_host(n) for n in names if n))


def _covers(pattern: str, host: str) -> bool:
    """Certificate name matching: exact, or a wildcard standing for exactly one label."""
    if pattern.startswith("*."):
        head, _, rest = normal_host(host).partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == normal_host(host)
