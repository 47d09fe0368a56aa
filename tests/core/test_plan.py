"""plan() creates what is missing, updates what differs in declared fields only, keeps the rest."""

from __future__ import annotations

from core.kinds import rebuilt_with
from core.plan import PRESENT, Action, Item, plan
from core.plan_output import table_rows
from core.state import Kind

ZONE = Item(Kind.HOSTED_ZONE, "platform.example.com", {"private": "false"})
DELEGATION = Item(Kind.DELEGATION, "platform.example.com", {"name_servers": "a,b"})
TAG = Item(Kind.SUBNET_TAG, "subnet-1 kubernetes.io/role/elb", {"value": PRESENT})


def test_missing_items_are_created() -> None:
    result = plan([ZONE, DELEGATION], {})
    assert [c.action for c in result.changes] == [Action.CREATE, Action.CREATE]
    assert not result.converged


def test_only_declared_fields_are_compared() -> None:
    observed = {
        (Kind.HOSTED_ZONE, "platform.example.com"): {"private": "false", "comment": "server"},
        (Kind.DELEGATION, "platform.example.com"): {"name_servers": "a,b", "ttl": "172800"},
    }
    result = plan([ZONE, DELEGATION], observed)
    assert result.converged
    assert result.kinds_to_fix() == ()


def test_changed_field_is_an_update_with_the_difference() -> None:
    observed = {(Kind.DELEGATION, "platform.example.com"): {"name_servers": "a,c"}}
    result = plan([DELEGATION], observed)
    (change,) = result.drift
    assert change.action is Action.UPDATE
    assert [(d.field, d.expected, d.found) for d in change.differences] == [
        ("name_servers", "a,b", "a,c")
    ]
    assert table_rows(result) == [
        {
            "status": "update",
            "item": "ns-delegation platform.example.com",
            "field": "name_servers",
            "found": "a,c",
            "expected": "a,b",
        }
    ]


def test_present_accepts_any_value_but_not_absence() -> None:
    key = (Kind.SUBNET_TAG, "subnet-1 kubernetes.io/role/elb")
    assert plan([TAG], {key: {"value": ""}}).converged
    assert not plan([TAG], {key: {}}).converged
    assert plan([TAG], {key: None}).changes[0].action is Action.CREATE


def test_kinds_to_fix_in_declaration_order() -> None:
    result = plan([ZONE, TAG, DELEGATION], {(Kind.HOSTED_ZONE, "platform.example.com"): {}})
    assert result.kinds_to_fix() == (Kind.HOSTED_ZONE, Kind.DELEGATION, Kind.SUBNET_TAG)


def test_a_resource_made_anew_replans_what_carries_its_identity() -> None:
    desired = [
        Item(Kind.HOSTED_ZONE, "sub"),
        Item(Kind.DELEGATION, "sub", {"name_servers": PRESENT}),
        Item(Kind.SUBNET_TAG, "s-1 k", {"value": PRESENT}),
    ]
    observed = {
        (Kind.DELEGATION, "sub"): {"name_servers": "ns-old"},
        (Kind.SUBNET_TAG, "s-1 k"): {"value": "1"},
    }
    result = plan(desired, observed, rebuilt=rebuilt_with)
    assert [c.action for c in result.changes] == [Action.CREATE, Action.UPDATE, Action.KEEP]
    assert result.changes[1].differences[0].field == "built on"
    assert result.kinds_to_fix() == (Kind.HOSTED_ZONE, Kind.DELEGATION)
    assert result.keys_to_fix(Kind.DELEGATION) == frozenset({"sub"})


def test_an_item_declared_absent_is_planned_for_removal_while_it_exists() -> None:
    gone = Item(Kind.POD_IDENTITY, "kube-system/aws-load-balancer-controller", absent=True)
    key = (gone.kind, gone.key)
    found = {key: {"role": "arn:r", "users": "a,b"}}
    (change,) = plan([gone], found).changes
    assert change.action is Action.DELETE
    assert change.users == "a,b"
    assert plan([gone], found).kinds_to_fix() == (Kind.POD_IDENTITY,)
    assert plan([gone], {}).converged  # already gone: nothing to do
    assert "1 to remove" in plan([gone], found).summary()
