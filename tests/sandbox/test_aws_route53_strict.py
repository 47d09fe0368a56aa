"""Route53 in the AWS sandbox answers like real Route53, checked through boto3."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox

_names = itertools.count()


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    sandbox = AwsSandbox(account_id="111111110001").start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def r53(aws: AwsSandbox) -> Any:
    return aws.client("route53")


def new_zone(r53: Any, name: str | None = None) -> tuple[str, str]:
    """A fresh public zone; names are unique per test so tests share one server."""
    name = name or f"z{next(_names)}.example.org"
    zone = r53.create_hosted_zone(Name=name, CallerReference=f"ref-{name}-{next(_names)}")
    return zone["HostedZone"]["Id"].rsplit("/", 1)[-1], name


def a_record(name: str, value: str = "192.0.2.1", ttl: int = 300) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": value}]}


def change(r53: Any, zone_id: str, *changes: tuple[str, dict[str, Any]]) -> Any:
    batch = {"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]}
    return r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def names_and_types(r53: Any, zone_id: str) -> set[tuple[str, str]]:
    listed = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(r["Name"], r["Type"]) for r in listed}


def test_caller_reference_reused_even_after_delete_is_refused(r53: Any) -> None:
    zone = r53.create_hosted_zone(Name="once.example.org", CallerReference="fixed-ref")
    r53.delete_hosted_zone(Id=zone["HostedZone"]["Id"])
    with pytest.raises(ClientError) as excinfo:
        r53.create_hosted_zone(Name="once.example.org", CallerReference="fixed-ref")
    assert error_of(excinfo)[:2] == ("HostedZoneAlreadyExists", 409)


def test_create_of_existing_record_is_refused(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    change(r53, zone_id, ("CREATE", a_record(f"app.{name}")))
    with pytest.raises(ClientError) as excinfo:
        change(r53, zone_id, ("CREATE", a_record(f"APP.{name}.", value="192.0.2.99")))
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidChangeBatch", 400)
    assert f"[name='app.{name}.', type='A'] but it already exists" in message


def test_delete_of_missing_record_is_refused(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    with pytest.raises(ClientError) as excinfo:
        change(r53, zone_id, ("DELETE", a_record(f"gone.{name}")))
    code, _, message = error_of(excinfo)
    assert code == "InvalidChangeBatch"
    assert "but it was not found" in message


@pytest.mark.parametrize(
    "different",
    [
        {"ResourceRecords": [{"Value": "192.0.2.2"}]},
        {"TTL": 60},
    ],
)
def test_delete_must_match_values_and_ttl_exactly(r53: Any, different: dict[str, Any]) -> None:
    zone_id, name = new_zone(r53)
    record = a_record(f"app.{name}")
    change(r53, zone_id, ("CREATE", record))
    with pytest.raises(ClientError) as excinfo:
        change(r53, zone_id, ("DELETE", {**record, **different}))
    assert "do not match the current values" in error_of(excinfo)[2]
    change(r53, zone_id, ("DELETE", record))
    assert (f"app.{name}.", "A") not in names_and_types(r53, zone_id)


def test_a_failing_batch_applies_nothing(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    with pytest.raises(ClientError):
        change(
            r53,
            zone_id,
            ("CREATE", a_record(f"first.{name}")),
            ("DELETE", a_record(f"missing.{name}")),
        )
    assert (f"first.{name}.", "A") not in names_and_types(r53, zone_id)


def test_each_change_sees_the_ones_before_it(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    old, new = a_record(f"app.{name}"), a_record(f"app.{name}", value="192.0.2.7")
    change(r53, zone_id, ("CREATE", old))
    change(r53, zone_id, ("DELETE", old), ("CREATE", new))
    with pytest.raises(ClientError):
        change(r53, zone_id, ("DELETE", new), ("DELETE", new))
    listed = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert [r["ResourceRecords"] for r in listed if r["Type"] == "A"] == [[{"Value": "192.0.2.7"}]]


def test_cname_cannot_share_a_name(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    change(r53, zone_id, ("CREATE", a_record(f"app.{name}")))
    cname = {"Name": f"app.{name}", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "x"}]}
    with pytest.raises(ClientError) as excinfo:
        change(r53, zone_id, ("UPSERT", cname))
    assert "conflicting RRSet of type A" in error_of(excinfo)[2]


def test_zone_apex_soa_and_ns_cannot_be_deleted(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    listed = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    apex_ns = next(r for r in listed if r["Type"] == "NS")
    with pytest.raises(ClientError) as excinfo:
        change(r53, zone_id, ("DELETE", apex_ns))
    assert error_of(excinfo)[0] == "InvalidChangeBatch"


def test_record_outside_the_zone_is_refused(r53: Any) -> None:
    zone_id, _ = new_zone(r53)
    with pytest.raises(ClientError) as excinfo:
        change(r53, zone_id, ("CREATE", a_record("www.elsewhere.test")))
    assert "is not permitted in zone" in error_of(excinfo)[2]


def test_wildcard_is_listed_as_052_and_deletable_either_way(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    change(r53, zone_id, ("CREATE", a_record(f"*.{name}")))
    assert (f"\\052.{name}.", "A") in names_and_types(r53, zone_id)
    change(r53, zone_id, ("DELETE", a_record(f"\\052.{name}.")))
    assert (f"\\052.{name}.", "A") not in names_and_types(r53, zone_id)


def test_alias_to_a_load_balancer_that_does_not_exist_is_refused(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    alias = {
        "Name": f"*.{name}",
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z1H1FL5HABSF5",
            "DNSName": "k8s-nothere-0123456789.us-west-2.elb.amazonaws.com",
            "EvaluateTargetHealth": True,
        },
    }
    with pytest.raises(ClientError) as excinfo:
        change(r53, zone_id, ("UPSERT", alias))
    assert error_of(excinfo)[0] == "InvalidChangeBatch"


def test_zone_with_records_cannot_be_deleted(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    delegation = {
        "Name": f"sub.{name}",
        "Type": "NS",
        "TTL": 300,
        "ResourceRecords": [{"Value": "ns-1.awsdns-00.com"}],
    }
    change(r53, zone_id, ("CREATE", delegation))
    with pytest.raises(ClientError) as excinfo:
        r53.delete_hosted_zone(Id=zone_id)
    assert error_of(excinfo)[:2] == ("HostedZoneNotEmpty", 400)
    change(r53, zone_id, ("DELETE", delegation))
    r53.delete_hosted_zone(Id=zone_id)


def test_every_zone_has_its_own_name_servers_everywhere(aws: AwsSandbox, r53: Any) -> None:
    first_id, first = new_zone(r53)
    second_id, _ = new_zone(r53)
    servers = {}
    for zone_id in (first_id, second_id):
        delegation = r53.get_hosted_zone(Id=zone_id)["DelegationSet"]["NameServers"]
        listed = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        ns = next(r for r in listed if r["Type"] == "NS")
        soa = next(r for r in listed if r["Type"] == "SOA")
        assert [v["Value"] for v in ns["ResourceRecords"]] == [f"{s}." for s in delegation]
        assert soa["ResourceRecords"][0]["Value"].startswith(f"{delegation[0]}. ")
        assert len(set(delegation)) == 4
        servers[zone_id] = delegation
    assert not set(servers[first_id]) & set(servers[second_id])
    zones = {zone_id: (name, private, ns) for zone_id, name, private, ns in aws.route53_zones()}
    assert zones[first_id] == (f"{first}.", False, servers[first_id])


def test_list_by_name_starts_at_the_name_in_route53_order(r53: Any) -> None:
    suffix = f"order{next(_names)}.test"
    for label in ("b", "a", "c"):
        new_zone(r53, f"{label}.{suffix}")
    listed = r53.list_hosted_zones_by_name(DNSName=f"aa.{suffix}", MaxItems="2")
    assert [z["Name"] for z in listed["HostedZones"]] == [f"b.{suffix}.", f"c.{suffix}."]
    assert listed["IsTruncated"] is (listed.get("NextDNSName") is not None)


def test_changes_have_ids_that_get_change_follows(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    first = change(r53, zone_id, ("CREATE", a_record(f"one.{name}")))["ChangeInfo"]
    second = change(r53, zone_id, ("CREATE", a_record(f"two.{name}")))["ChangeInfo"]
    assert first["Id"] != second["Id"]
    assert r53.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    with pytest.raises(ClientError) as excinfo:
        r53.get_change(Id="/change/CNOSUCHCHANGE1")
    assert error_of(excinfo)[:2] == ("NoSuchChange", 404)


def test_changes_stay_pending_for_the_sync_delay() -> None:
    with AwsSandbox(account_id="111111110008", route53_sync_delay=3600) as slow:
        r53 = slow.client("route53")
        zone_id, name = new_zone(r53)
        info = change(r53, zone_id, ("CREATE", a_record(f"one.{name}")))["ChangeInfo"]
        assert info["Status"] == "PENDING"
        assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"


def test_listing_pages_through_a_wildcard(r53: Any) -> None:
    zone_id, name = new_zone(r53)
    change(r53, zone_id, ("CREATE", a_record(f"*.{name}")), ("CREATE", a_record(f"www.{name}")))
    seen, start = [], {}
    while True:
        page = r53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="1", **start)
        seen += [(r["Name"], r["Type"]) for r in page["ResourceRecordSets"]]
        if not page["IsTruncated"]:
            break
        start = {
            "StartRecordName": page["NextRecordName"],
            "StartRecordType": page["NextRecordType"],
        }
    assert sorted(seen) == sorted(names_and_types(r53, zone_id))
    assert len(seen) == 4


def test_tags_of_a_deleted_zone_are_no_such_hosted_zone(r53: Any) -> None:
    zone_id, _ = new_zone(r53)
    r53.change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone_id, AddTags=[{"Key": "owner", "Value": "kfalb"}]
    )
    tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)
    assert tags["ResourceTagSet"]["Tags"] == [{"Key": "owner", "Value": "kfalb"}]
    r53.delete_hosted_zone(Id=zone_id)
    with pytest.raises(ClientError) as excinfo:
        r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)
    assert error_of(excinfo)[:2] == ("NoSuchHostedZone", 404)


def test_rules_apply_only_to_requests_through_the_sandbox(aws: AwsSandbox, r53: Any) -> None:
    from moto.route53.models import route53_backends

    backend = route53_backends[aws.account_id]["aws"]
    # In-process moto use (as with mock_aws) keeps moto's own, lax behaviour.
    backend.create_hosted_zone("direct.example.org.", private_zone=False, caller_reference="direct")
    backend.create_hosted_zone("direct.example.org.", private_zone=False, caller_reference="direct")
    r53.create_hosted_zone(Name="direct.example.org", CallerReference="direct-http")
    with pytest.raises(ClientError) as excinfo:
        r53.create_hosted_zone(Name="direct.example.org", CallerReference="direct-http")
    assert error_of(excinfo)[0] == "HostedZoneAlreadyExists"
