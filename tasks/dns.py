"""DNS checks with dnspython: delegation and answers, at authoritative servers and resolvers."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rdatatype
import dns.resolver
from prefect import task

from core.dnsnames import normalise
from core.errors import PermanentError
from core.settings import Settings, get_settings, nameserver_address
from core.waits import WAITS, Awaited
from tasks.logs import run_logger
from tasks.waits import wait_for

QUERY_TIMEOUT = 3.0


def resolver(settings: Settings) -> dns.resolver.Resolver:
    """The configured resolvers (KFALB_DNS_NAMESERVERS), else the system's."""
    if not settings.dns_nameservers:
        result = dns.resolver.Resolver()
    else:
        result = dns.resolver.Resolver(configure=False)
        result.nameservers = [
            dns.nameserver.Do53Nameserver(*nameserver_address(item))
            for item in settings.dns_nameservers
        ]
    result.lifetime = QUERY_TIMEOUT * 2
    result.timeout = QUERY_TIMEOUT
    result.cache = None
    return result


def answers(name: str, rtype: str, settings: Settings) -> tuple[str, ...]:
    """Sorted, normalised answers for name/rtype at the resolvers; () when none."""
    try:
        result = resolver(settings).resolve(name, rtype, raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.exception.Timeout):
        return ()
    if result.rrset is None:
        return ()
    return tuple(sorted(normalise(item.to_text()) for item in result.rrset))


def _server_addresses(name_servers: Iterable[str], settings: Settings) -> list[str]:
    addresses: list[str] = []
    for server in name_servers:
        addresses.extend(answers(server, "A", settings))
    return addresses


def authoritative_answers(
    name: str, rtype: str, name_servers: Iterable[str], settings: Settings
) -> dict[str, tuple[str, ...]]:
    """Ask each of a zone's name servers directly: {server address: answers}.

    Answers at the name itself count, of the type asked or a CNAME (which the server may give
    instead of following it).
    """
    results: dict[str, tuple[str, ...]] = {}
    query = dns.message.make_query(name, rtype)
    for address in _server_addresses(name_servers, settings):
        try:
            response = dns.query.udp(
                query, address, port=settings.authoritative_dns_port, timeout=QUERY_TIMEOUT
            )
        except (dns.exception.DNSException, OSError):
            results[address] = ()
            continue
        wanted = (dns.rdatatype.from_text(rtype), dns.rdatatype.CNAME)
        values = [
            normalise(item.to_text())
            for rrset in (*response.answer, *response.authority)
            if rrset.rdtype in wanted and rrset.name == dns.name.from_text(name)
            for item in rrset
        ]
        results[address] = tuple(sorted(values))
    return results


def _same_servers(found: Iterable[str], wanted: Iterable[str]) -> bool:
    return {normalise(item) for item in found} == {normalise(item) for item in wanted}


@task(name="verify-delegation")
def wait_for_delegation(
    subdomain: str, name_servers: tuple[str, ...], *, root_name_servers: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Wait until the subdomain's NS set is the zone's name servers, in public DNS.

    With `root_name_servers` (the root zone is in Route53) the root's authoritative servers are
    asked first; then the configured resolvers. Bounded by KFALB_DELEGATION_TIMEOUT_SECONDS.
    """
    settings = get_settings()
    logger = run_logger()
    if root_name_servers:
        _wait_at_servers(
            WAITS.delegation_at_root.of(subdomain, ", ".join(name_servers)),
            (subdomain, "NS"),
            root_name_servers,
            lambda answer: _same_servers(answer, name_servers),
            settings=settings,
        )
    found = wait_for(
        WAITS.delegation_public.of(subdomain, ", ".join(name_servers)),
        lambda: answers(subdomain, "NS", settings),
        until=lambda found: _same_servers(found, name_servers),
        settings=settings,
        describe=lambda found: f"NS {', '.join(found or ()) or 'none'}",
    )
    logger.info("Delegation of %s is visible: %s", subdomain, ", ".join(found))
    return found


@task(name="wait-for-dns")
def wait_for_dns(host: str, target: str, *, zone_name_servers: tuple[str, ...]) -> tuple[str, ...]:
    """Wait until `host` resolves like `target` (the ALB's name): at the subdomain's
    authoritative servers, then at the configured resolvers. Bounded by KFALB_DNS_TIMEOUT_SECONDS.
    """
    settings = get_settings()
    expected = answers(target, "A", settings)
    if not expected:
        raise PermanentError(f"The ALB name {target} does not resolve; is the load balancer gone?")

    def matches(found: tuple[str, ...]) -> bool:
        return bool(found) and set(found) <= set(expected)

    def points_at_target(found: tuple[str, ...]) -> bool:
        return matches(found) or normalise(target) in found

    _wait_at_servers(
        WAITS.record_at_servers.of(host, ", ".join(expected)),
        (host, "A"),
        zone_name_servers,
        points_at_target,
        settings=settings,
    )
    found = wait_for(
        WAITS.record_at_resolvers.of(host, ", ".join(expected)),
        lambda: answers(host, "A", settings),
        until=matches,
        settings=settings,
        describe=lambda found: ", ".join(found or ()) or "no answer",
    )
    run_logger().info("%s resolves to %s", host, ", ".join(found))
    return found


def _wait_at_servers(
    awaited: Awaited,
    question: tuple[str, str],
    servers: tuple[str, ...],
    accept: Callable[[tuple[str, ...]], bool],
    *,
    settings: Settings,
) -> None:
    """Wait until each of the authoritative `servers` answers the question (name, record type)
    as `accept` wants."""
    name, rtype = question
    wait_for(
        awaited,
        lambda: authoritative_answers(name, rtype, servers, settings),
        until=lambda found: bool(found) and all(accept(answer) for answer in found.values()),
        settings=settings,
        describe=_describe_servers,
    )


def _describe_servers(found: dict[str, tuple[str, ...]] | None) -> str:
    if not found:
        return "no name server address resolved"
    return "; ".join(
        f"{address}: {', '.join(values) or 'none'}" for address, values in found.items()
    )
