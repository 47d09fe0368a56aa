"""A subdomain zone someone else made: refused unless adopted, and then left as it was found."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


@pytest.fixture
def spec() -> StackSpec:
    return load_spec(EXAMPLE.read_text())


def _adopting(spec: StackSpec) -> StackSpec:
    return spec.model_copy(update={"stack": spec.stack.model_copy(update={"adopt_zone": True})})


def _record_sets(world: Any, zone_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
    found = world.aws.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return sorted(
        (r["Name"], r["Type"], tuple(sorted(v["Value"] for v in r.get("ResourceRecords", []))))
        for r in found["ResourceRecordSets"]
    )


def _foreign_zone(world: Any, spec: StackSpec) -> str:
    """A public zone for the subdomain, made by someone else, not delegated, with a record."""
    route53 = world.aws.client("route53")
    made = route53.create_hosted_zone(Name=spec.subdomain, CallerReference="someone-else")
    zone_id = made["HostedZone"]["Id"].rsplit("/", 1)[-1]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": f"theirs.{spec.subdomain}", "Type": "TXT", "TTL": 60,
            "ResourceRecords": [{"Value": '"keep me"'}]}}]},
    )  # fmt: skip
    return str(zone_id)


def _zone_count(world: Any) -> int:
    return len(world.aws.client("route53").list_hosted_zones()["HostedZones"])


def test_a_foreign_zone_is_refused_and_nothing_changes(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from core.errors import PreflightError
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world = sandbox_world()
    zone_id = _foreign_zone(world, spec)
    root = world.seeded.root_zone_id
    before = (_record_sets(world, zone_id), _record_sets(world, root), _zone_count(world))
    calls = api_calls()

    with pytest.raises(PreflightError) as error:
        setup_load_balancer(spec=spec)

    assert f"Hosted zone {zone_id} ({spec.subdomain}) exists and was not created" in str(
        error.value
    )
    assert "stack.adoptZone: true" in str(error.value)
    assert (_record_sets(world, zone_id), _record_sets(world, root), _zone_count(world)) == before
    assert api_calls().since(calls).mutating_calls() == ()
    assert world.aws.client("acm").list_certificates()["CertificateSummaryList"] == []


def test_an_adopted_zone_gets_our_records_and_cleanup_takes_only_those(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    zone_id = _foreign_zone(world, spec)
    root = world.seeded.root_zone_id
    before = (_record_sets(world, zone_id), _record_sets(world, root), _zone_count(world))
    adopting = _adopting(spec)

    setup_load_balancer(spec=adopting)
    names = {name for name, _, _ in _record_sets(world, zone_id)}
    assert f"*.{spec.subdomain}." in {n.replace("\\052", "*") for n in names}
    assert any(name == f"{spec.subdomain}." and type_ == "NS"
               for name, type_, _ in _record_sets(world, root))  # fmt: skip

    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    assert (_record_sets(world, zone_id), _record_sets(world, root), _zone_count(world)) == before
