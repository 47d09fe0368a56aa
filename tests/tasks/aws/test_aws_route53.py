"""Route53 tasks against moto: root zone lookup, subdomain zone, delegation, record changes."""

from __future__ import annotations

import functools

import pytest

from core import naming
from core.errors import AwsError, OwnershipError, PreflightError
from core.resources import RecordChange, RecordSetState
from core.spec import StackSpec
from tasks.aws import route53
from tasks.aws.route53_records import change_records, delete_record_set, observe_record_set


def _with_root_zone_id(spec: StackSpec, zone_id: str) -> StackSpec:
    # moto's zone ids do not start with Z like real ones, so skip the spec's id validation.
    root = spec.route53.root_domain.model_copy(update={"hosted_zone_id": zone_id})
    return spec.model_copy(
        update={"route53": spec.route53.model_copy(update={"root_domain": root})}
    )


def test_root_zone_by_name_has_its_name_servers(ctx, spec, root_zone_id):
    zone = route53.find_root_zone.fn(ctx, spec)
    assert zone is not None
    assert (zone.zone_id, zone.name, zone.owned) == (root_zone_id, "example.com", False)
    assert len(zone.name_servers) == 4


def test_root_not_in_route53_is_not_an_error(ctx, spec, boto):
    boto("route53").create_hosted_zone(
        Name="example.com", CallerReference="private", HostedZoneConfig={"PrivateZone": True}
    )
    assert route53.find_root_zone.fn(ctx, spec) is None


def test_a_recorded_root_zone_recreated_with_a_new_id_is_found_again_by_name(
    ctx, spec, root_zone_id, boto
):
    r53 = boto("route53")
    for record in r53.list_resource_record_sets(HostedZoneId=root_zone_id)["ResourceRecordSets"]:
        if record["Name"] != "example.com." or record["Type"] not in ("NS", "SOA"):
            r53.change_resource_record_sets(HostedZoneId=root_zone_id, ChangeBatch={
                "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})  # fmt: skip
    r53.delete_hosted_zone(Id=root_zone_id)
    again = r53.create_hosted_zone(Name="example.com", CallerReference="re-created")
    recorded = _with_root_zone_id(spec, root_zone_id)
    with pytest.raises(PreflightError, match="does not exist"):  # setup: the config is wrong
        route53.find_root_zone.fn(ctx, recorded)
    found = route53.find_root_zone.fn(ctx, recorded, by_name_when_gone=True)  # cleanup
    assert found is not None
    assert found.zone_id == again["HostedZone"]["Id"].rsplit("/", 1)[-1]


def test_two_public_root_zones_ask_for_the_zone_id(ctx, spec, root_zone_id, boto):
    boto("route53").create_hosted_zone(Name="example.com", CallerReference="second")
    with pytest.raises(PreflightError, match="hostedZoneId"):
        route53.find_root_zone.fn(ctx, spec)


def test_root_zone_by_id_must_exist_and_be_public(ctx, spec, root_zone_id, boto):
    assert route53.find_root_zone.fn(ctx, _with_root_zone_id(spec, root_zone_id))
    with pytest.raises(PreflightError, match="does not exist"):
        route53.find_root_zone.fn(ctx, _with_root_zone_id(spec, "ZNOSUCHZONE"))
    private = boto("route53").create_hosted_zone(
        Name="example.com", CallerReference="p", HostedZoneConfig={"PrivateZone": True}
    )
    private_id = private["HostedZone"]["Id"].rsplit("/", 1)[-1]
    with pytest.raises(PreflightError, match="private"):
        route53.find_root_zone.fn(ctx, _with_root_zone_id(spec, private_id))


def test_ensure_creates_a_tagged_zone_once(ctx, spec, root_zone_id, boto, mutations):
    zone = route53.ensure_hosted_zone.fn(ctx, spec)
    assert zone.owned
    assert zone.name == "platform.example.com"
    assert zone.caller_reference.startswith(naming.zone_reference_prefix(spec.name, spec.subdomain))
    tags = boto("route53").list_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone.zone_id
    )
    found = {tag["Key"]: tag["Value"] for tag in tags["ResourceTagSet"]["Tags"]}
    assert found == spec.tags

    again: list = []
    assert mutations(lambda: again.append(route53.ensure_hosted_zone.fn(ctx, spec))) == []
    assert again[0].zone_id == zone.zone_id


def test_pre_existing_zone_is_refused_unless_adopted(ctx, spec, root_zone_id, boto, mutations):
    existing = boto("route53").create_hosted_zone(Name=spec.subdomain, CallerReference="theirs")
    zone_id = existing["HostedZone"]["Id"].rsplit("/", 1)[-1]
    refused: list = []

    def refuse() -> None:
        with pytest.raises(PreflightError, match="Set stack.adoptZone: true") as error:
            route53.ensure_hosted_zone.fn(ctx, spec)
        refused.append(str(error.value))

    assert mutations(refuse) == []
    assert f"Hosted zone {zone_id} (platform.example.com) exists" in refused[0]

    adopting = spec.model_copy(update={"stack": spec.stack.model_copy(update={"adopt_zone": True})})
    found: list = []
    assert mutations(lambda: found.append(route53.ensure_hosted_zone.fn(ctx, adopting))) == []
    assert found[0].zone_id == zone_id
    assert not found[0].owned
    with pytest.raises(OwnershipError, match="left as it is"):
        route53.delete_hosted_zone.fn(ctx, adopting)


def test_untagged_zone_with_our_caller_reference_is_ours_and_gets_tagged(
    ctx, spec, root_zone_id, boto
):
    reference = naming.zone_caller_reference(spec.name, spec.subdomain, 0)
    boto("route53").create_hosted_zone(Name=spec.subdomain, CallerReference=reference)
    zone = route53.ensure_hosted_zone.fn(ctx, spec)
    assert zone.owned
    assert zone.tags == spec.tags


def test_each_setup_after_a_cleanup_creates_its_zone_with_one_call(
    ctx, spec, root_zone_id, boto, mutations
):
    # Route53 refuses a CallerReference used by a zone that was deleted since: every setup
    # (its attempt: the flow run id) has a reference of its own.
    zones = []

    def setup(attempt: str) -> None:
        zones.append(route53.ensure_hosted_zone.fn(ctx, spec, attempt=attempt))

    for cycle in range(10):
        calls = mutations(functools.partial(setup, f"run-{cycle}"))
        assert calls.count("route53:CreateHostedZone") == 1, (cycle, calls)
        assert zones[-1].owned
        assert route53.delete_hosted_zone.fn(ctx, spec, zone_id=zones[-1].zone_id)
    assert len({zone.zone_id for zone in zones}) == 10


def test_a_retry_within_one_setup_reuses_its_reference(ctx, spec, root_zone_id, boto):
    first = route53.ensure_hosted_zone.fn(ctx, spec, attempt="run-a")
    assert first.caller_reference.endswith(":run-a")
    boto("route53").delete_hosted_zone(Id=first.zone_id)
    # The same attempt again: Route53 says the reference was used; the zone is gone, so say so.
    with pytest.raises(AwsError, match="this setup made a zone with it that is gone now"):
        route53.ensure_hosted_zone.fn(ctx, spec, attempt="run-a")


def test_the_attempt_is_the_flow_run(prefect_server):
    from prefect import flow

    @flow
    def attempts() -> tuple[str, str]:
        return route53.setup_attempt(), route53.setup_attempt()

    first, second = attempts(), attempts()
    assert first[0] == first[1]
    assert first[0] != second[0]


def test_delegation_upserts_only_when_the_ns_set_differs(ctx, spec, root_zone_id, mutations):
    zone = route53.ensure_hosted_zone.fn(ctx, spec)
    first = route53.ensure_delegation.fn(ctx, root_zone_id, zone)
    assert first.changed
    current = route53.observe_delegation.fn(ctx, root_zone_id, zone.name)
    assert current is not None
    assert set(current.values) == set(zone.name_servers)
    assert mutations(lambda: route53.ensure_delegation.fn(ctx, root_zone_id, zone)) == []

    moved = zone.model_copy(update={"name_servers": ("ns-1.example.net",)})
    assert route53.ensure_delegation.fn(ctx, root_zone_id, moved).changed
    with pytest.raises(OwnershipError, match="not to zone"):
        route53.delete_delegation.fn(ctx, root_zone_id, zone)
    assert route53.delete_delegation.fn(ctx, root_zone_id, moved)
    assert not route53.delete_delegation.fn(ctx, root_zone_id, moved)


def _cname(name: str, value: str) -> RecordSetState:
    return RecordSetState(name=name, type="CNAME", ttl=300, values=(value,))


def test_change_records_batches_skips_no_ops_and_refuses_to_clobber(ctx, root_zone_id, mutations):
    zone = root_zone_id
    changes = [
        RecordChange(action="UPSERT", record=_cname("a.example.com", "x.example.net")),
        RecordChange(action="CREATE", record=_cname("b.example.com", "y.example.net")),
    ]
    made = mutations(lambda: change_records.fn(ctx, zone, changes))
    assert made == ["route53:ChangeResourceRecordSets"]
    assert mutations(lambda: change_records.fn(ctx, zone, changes)) == []

    clobber = RecordChange(action="CREATE", record=_cname("b.example.com", "other.example.net"))
    with pytest.raises(OwnershipError, match="already exists"):
        change_records.fn(ctx, zone, [clobber])


def test_delete_record_uses_current_values_and_reports_gone(ctx, root_zone_id):
    zone = root_zone_id
    record = RecordSetState(name="*.example.com", type="A", ttl=60, values=("192.0.2.1",))
    change_records.fn(ctx, zone, [RecordChange(action="UPSERT", record=record)])
    found = observe_record_set.fn(ctx, zone, "*.example.com", "A")
    assert found is not None
    assert found.values == ("192.0.2.1",)
    assert found.name == "*.example.com"
    assert delete_record_set.fn(ctx, zone, "*.example.com", "A")
    assert observe_record_set.fn(ctx, zone, "*.example.com", "A") is None
    assert not delete_record_set.fn(ctx, zone, "*.example.com", "A")


def test_delete_zone_refuses_while_records_remain(ctx, spec, root_zone_id):
    zone = route53.ensure_hosted_zone.fn(ctx, spec)
    record = _cname("kubeflow.platform.example.com", "alb.example.net")
    change_records.fn(ctx, zone.zone_id, [RecordChange(action="UPSERT", record=record)])
    with pytest.raises(AwsError, match="kubeflow.platform.example.com CNAME") as caught:
        route53.delete_hosted_zone.fn(ctx, spec)
    assert caught.value.code == "HostedZoneNotEmpty"
    assert delete_record_set.fn(ctx, zone.zone_id, record.name, "CNAME")
    assert route53.delete_hosted_zone.fn(ctx, spec)
    assert not route53.delete_hosted_zone.fn(ctx, spec)
    assert not route53.delete_hosted_zone.fn(ctx, spec, zone_id=zone.zone_id)
