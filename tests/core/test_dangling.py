"""Records left in a zone we do not own: the exact change to remove them, and the takeover
warning for an NS delegation to a deleted zone."""

from __future__ import annotations

import json
import shlex

from core.dangling import leftover_records, takeover_warning
from core.resources import RecordSetState

NS = ("ns-1.awsdns-00.com.", "ns-513.awsdns-16.net.", "ns-1025.awsdns-32.org.")
DELEGATION = RecordSetState(name="platform.example.com", type="NS", ttl=172800, values=NS)
VALIDATION = RecordSetState(name="_abc.example.com", type="CNAME", ttl=300,
                            values=("_xyz.acm-validations.aws.",))  # fmt: skip


def test_the_change_deletes_each_record_exactly_as_it_is_and_warns_of_a_takeover() -> None:
    left = leftover_records(zone_name="example.com.", zone_id="Z0ROOT", records=[DELEGATION, VALIDATION],
                            deleted_zones=["platform.example.com"])  # fmt: skip
    changes = left.change_batch["Changes"]
    assert [c["Action"] for c in changes] == ["DELETE", "DELETE"]
    assert changes[0]["ResourceRecordSet"] == {
        "Name": "platform.example.com.", "Type": "NS", "TTL": 172800,
        "ResourceRecords": [{"Value": value} for value in NS],
    }  # fmt: skip
    assert changes[1]["ResourceRecordSet"]["ResourceRecords"] == [
        {"Value": "_xyz.acm-validations.aws."}
    ]
    argv = shlex.split(left.command)
    assert argv[:5] == ["aws", "route53", "change-resource-record-sets", "--hosted-zone-id",
                        "Z0ROOT"]  # fmt: skip
    assert json.loads(argv[6]) == left.change_batch
    assert left.lines[0] == (
        "DELETE platform.example.com. NS 172800 ns-1.awsdns-00.com.,ns-513.awsdns-16.net.,"
        "ns-1025.awsdns-32.org."
    )
    assert "subdomain takeover" in left.warning
    assert "platform.example.com still delegates to ns-1.awsdns-00.com, " in left.warning
    assert left.text.startswith("Left in hosted zone Z0ROOT (example.com); remove by hand:")


def test_no_warning_while_the_delegated_zone_exists_and_no_command_outside_route53() -> None:
    left = leftover_records(zone_name="example.com", zone_id=None, records=[DELEGATION])
    assert left.warning == ""
    assert left.command == ""
    assert left.text.startswith("Left in the DNS provider of example.com; remove by hand:")


def test_the_warning_names_the_subdomain_and_its_servers() -> None:
    text = takeover_warning("Platform.Example.com.", ["NS-2.example.net."])
    assert text.startswith("WARNING: the NS record of platform.example.com still delegates to "
                           "ns-2.example.net, but its hosted zone is deleted.")  # fmt: skip
