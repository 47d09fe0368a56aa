"""The world with its root domain outside Route53: a registrar's zone decides what is reachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.external_dns import EXTERNAL_NAME_SERVERS, ExternalDns
from sandbox.world import World, WorldOptions


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    options = WorldOptions(
        root_in_route53=False, account_id="398765432101", dns_delay=0.0, acm_delay=0.0
    )
    with World(tmp_path_factory.mktemp("external-dns"), options) as started:
        yield started


def test_the_root_is_served_by_its_provider_not_route53(world: World) -> None:
    assert world.external_dns is not None
    assert world.seeded is not None
    assert world.seeded.root_zone_id is None
    assert world.aws is not None
    assert world.dns is not None
    assert [z for z in world.aws.route53_zones() if z[1] == "example.com."] == []
    assert world.dns.lookup("www.example.com") == ["192.0.2.10"]
    assert sorted(world.dns.lookup("example.com", "NS")) == [f"{n}." for n in EXTERNAL_NAME_SERVERS]


def test_a_subdomain_zone_is_reached_only_once_the_provider_delegates_it(world: World) -> None:
    assert world.external_dns is not None
    assert world.aws is not None
    assert world.dns is not None
    route53 = world.aws.client("route53")
    created = route53.create_hosted_zone(Name="team.example.com", CallerReference="external-test")
    zone_id = created["HostedZone"]["Id"]
    name_servers = created["DelegationSet"]["NameServers"]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "app.team.example.com", "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.30"}]}}]},
    )  # fmt: skip
    assert world.dns.lookup("app.team.example.com") == []

    world.external_dns.add_record("team.example.com", "NS", name_servers)
    assert world.dns.lookup("app.team.example.com") == ["192.0.2.30"]

    world.external_dns.remove_record("team.example.com", "NS")
    assert world.dns.lookup("app.team.example.com") == []


def test_records_outside_the_domain_are_refused() -> None:
    provider = ExternalDns("example.com")
    with pytest.raises(ValueError, match="not within example.com"):
        provider.add_record("example.org", "TXT", ['"x"'])
    provider.add_record("_acme.example.com", "CNAME", ["target.example.net"])
    assert ("_acme.example.com.", "CNAME") in {(r.name, r.type) for r in provider.records()}
