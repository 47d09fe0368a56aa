"""The monthly cost line: the price table's items per region, stated assumptions, fleet sums."""

from __future__ import annotations

from typing import Any

import pytest

from core.cost import ASSUMED_LCU, NOT_INCLUDED, cost_document, estimate, prices
from core.spec import StackSpec, parse_spec


def spec(region: str = "us-west-2", *, scheme: str = "internet-facing", **stack: Any) -> StackSpec:
    return parse_spec(
        {
            "cluster": {"name": "kubeflow", "region": region},
            "route53": {
                "rootDomain": {"name": "example.com"},
                "subDomain": {"name": stack.pop("subdomain", "platform.example.com")},
            },
            "kubeflow": {"alb": {"scheme": scheme}},
            "stack": stack,
        }
    )


def test_the_price_table_states_its_sources_and_date() -> None:
    table = prices()
    assert table["retrieved"] == "2026-12-07"
    assert set(table["sources"]) == {"elb", "public_ipv4", "route53"}
    for region, row in table["alb"].items():
        assert row["hour"] > 0, region
        assert row["lcu_hour"] > 0, region
        assert row["checked"], region


def test_an_internet_facing_stack_in_us_west_2() -> None:
    cost = estimate(spec(), zones=3)
    items = {item.what: item.monthly for item in cost.items}
    # 730 h x 0.0225 = 16.425 -> 16.43 (half up, as a bill); 1 LCU x 730 h x 0.008; 3 public
    # addresses x 730 h x 0.005; one hosted zone.
    assert items == {"ALB hours": 16.43, "LCU (assumed)": 5.84, "public IPv4": 10.95,
                     "hosted zone": 0.5}  # fmt: skip
    assert cost.monthly == 33.72
    assert ASSUMED_LCU == 1.0
    line = cost.line()
    assert line.startswith("cost: about 33.72 USD/month in us-west-2 (")
    assert "prices of 2026-12-07" in line
    assert NOT_INCLUDED in cost.notes
    assert "Route53 queries" in NOT_INCLUDED


def test_internal_alb_has_no_public_addresses_and_an_adopted_zone_adds_nothing() -> None:
    cost = estimate(spec(scheme="internal", adoptZone=True), zones=2)
    assert [item.what for item in cost.items] == ["ALB hours", "LCU (assumed)"]
    assert cost.monthly == 22.27


def test_unknown_zones_assume_two_and_say_so() -> None:
    cost = estimate(spec(), zones=None)
    assert {i.what: i.monthly for i in cost.items}["public IPv4"] == 7.30
    assert "Availability Zones not known yet: 2 assumed" in cost.notes


@pytest.mark.parametrize(("region", "hour_cost"), [("eu-central-1", 19.71), ("us-west-1", 18.40)])
def test_prices_differ_by_region(region: str, hour_cost: float) -> None:
    cost = estimate(spec(region), zones=2)
    assert {i.what: i.monthly for i in cost.items}["ALB hours"] == hour_cost


def test_a_region_without_prices_gets_no_estimate_and_says_which_regions_have() -> None:
    cost = estimate(spec("sa-east-1"), zones=2)
    assert not cost.priced
    assert cost.line().startswith("cost: no estimate for sa-east-1 (the price table of 2026-12-07")
    assert "us-west-2" in cost.line()
    assert cost_document(cost)["monthly"] is None


def test_a_shared_albs_items_carry_one_key_for_the_group() -> None:
    alone = estimate(spec(), zones=2)
    group_a = estimate(spec(subdomain="a.example.com", ingressGroup="shared"), zones=2)
    group_b = estimate(spec(subdomain="b.example.com", ingressGroup="shared"), zones=2)
    # The two group members share one ALB (hours, LCU, addresses) but each has its own zone.
    shared = {(item.what, item.shared) for item in group_a.items if item.shared}
    assert shared == {(item.what, item.shared) for item in group_b.items if item.shared}
    assert {what for what, _ in shared} == {"ALB hours", "LCU (assumed)", "public IPv4"}
    assert {key for _, key in shared} == {"us-west-2/kubeflow/ingress-group/shared"}
    assert [item.what for item in group_a.items if not item.shared] == ["hosted zone"]
    assert not any(item.shared for item in alone.items)
    assert group_a.monthly == alone.monthly
    assert any("IngressGroup shared" in note for note in group_a.notes)
