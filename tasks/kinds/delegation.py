"""The subdomain's NS delegation in the root zone; settled once public DNS shows it (when the
root is not in Route53, the NS records are added by hand: the run says which, and waits)."""

from __future__ import annotations

from typing import Any

from core import records
from core.cleanup import delegated_zone
from core.errors import WaitTimeout
from core.report import delegation_instructions
from core.resources import HostedZoneState
from core.state import Kind, StackResource
from tasks.aws.root_dns import root_dns
from tasks.aws.route53_delegation import (
    delete_delegation,
    ensure_delegation,
)
from tasks.dns import wait_for_delegation
from tasks.kinds.base import Env, Got, Look, Verbs
from tasks.kinds.root_zone import RootZone
from tasks.logs import run_logger
from tasks.reporting import artifact_key, publish_markdown


def observe(look: Look) -> dict[str, Any]:
    if look.found.root_zone is None:
        return {}
    root = RootZone.of(look.ctx, look.spec, look.found)
    return {"delegation": root.delegation(look.found, look.record)}


def ensure(env: Env, got: Got) -> StackResource | None:
    root, zone = env.seen.root_zone, got[Kind.HOSTED_ZONE]
    if root is None:
        return None  # added by hand: the wait below says which records
    change = ensure_delegation.fn(root_dns(env.ctx, env.spec), root.zone_id, zone)
    return records.delegation_resource(root, zone, added=change.changed)


def settle(env: Env, made: Any, got: Got) -> Any:
    """Wait until public DNS delegates the subdomain to its zone's name servers; returns what
    ensure made (the delegation, as recorded)."""
    spec, root, zone = env.spec, env.seen.root_zone, got[Kind.HOSTED_ZONE]
    if root is None:
        _ask_by_hand(env, zone)
    try:
        wait_for_delegation.fn(
            spec.subdomain, zone.name_servers,
            root_name_servers=root.name_servers if root else (),
        )  # fmt: skip
    except WaitTimeout as error:
        if root is not None:
            raise
        raise WaitTimeout(
            f"{error.message}. {spec.root} is not in Route53: add the NS records of the artifact "
            f"'{artifact_key(spec.name, 'delegation')}' at its DNS provider, then run setup again."
        ) from None
    return made


def _ask_by_hand(env: Env, zone: HostedZoneState) -> None:
    spec = env.spec
    publish_markdown(
        spec.name,
        "delegation",
        delegation_instructions(spec.subdomain, zone.name_servers, spec.root),
        "NS records to add at your DNS provider",
    )
    run_logger().warning(
        "%s is not in Route53: add the NS records shown in the artifact '%s' at its DNS "
        "provider; waiting for them.",
        spec.root,
        artifact_key(spec.name, "delegation"),
    )


def delete(env: Env) -> str:
    seen = env.seen
    if seen.delegation is None or seen.root_zone is None:
        return ""
    zone = delegated_zone(seen, env.record)
    if zone is None:
        return f"left the NS record of {seen.delegation.name}: not pointing at a zone of the stack"
    root = RootZone.of(env.ctx, env.spec, seen)
    if root.refused:
        raise root.cannot_remove(
            f"The NS record of {zone.name} in zone {seen.root_zone.zone_id} ({seen.root_zone.name})",
            f" The zone {zone.zone_id} it points at stays.",
        )
    if delete_delegation.fn(root.access(seen.root_zone.zone_id), seen.root_zone.zone_id, zone):
        return f"deleted the delegation of {zone.name} from zone {seen.root_zone.zone_id}"
    return ""


VERBS = Verbs(
    observe=observe,
    observe_after=(Kind.HOSTED_ZONE,),
    current=lambda env: None,
    ensure=ensure,
    settle=settle,
    delete=delete,
)
