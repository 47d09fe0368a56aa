"""plan() creates what is missing, updates what differs in declared fields only, keeps the rest."""

from __future__ import annotations

from core.plan import PRESENT, Action, Item, plan, plan_rows
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
    assert plan_rows(result) == [
        {
            "item": "ns-delegation platform.example.com [name_servers]",
            "expected": "a,b",
            "found": "a,c",
            "status": "update",
        }
    ]


def test_present_accepts_any_value_but_not_absence() -> None:
    key = (Kind.SUBNET_TAG, "subnet-1 kubernetes.io/role/elb")
    assert plan([TAG], {key: {"value": ""}}).converged
    assert not plan([TAG], {key: {}}).converged
    assert plan([TAG], {key: None}).changes[0].action is Action.CREATE


def test_kinds_to_fix_in_declaration_order() -> None:
    result = plan([ZONE, TAG, DELEGATION], {(Kind.HOSTED_ZONE, "platform.example.com"): {}})
    assert result.kinds_to_fix() == (Kind.HOSTED_ZONE, Kind.SUBNET_TAG, Kind.DELEGATION)


def test_apply_order_puts_every_kind_after_what_it_is_built_on() -> None:
    from core.model import DEPENDS_ON, apply_order, cleanup_order

    order = apply_order()
    assert set(order) == set(Kind)
    for kind, deps in DEPENDS_ON.items():
        assert all(order.index(dep) < order.index(kind) for dep in deps), kind
    assert cleanup_order()[0] is Kind.DNS_RECORD  # the record goes first, the zone last
    assert cleanup_order()[-1] is Kind.HOSTED_ZONE
    assert Kind.HTTPS_ANSWER not in cleanup_order()  # checked, never created


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
    result = plan(desired, observed)
    assert [c.action for c in result.changes] == [Action.CREATE, Action.UPDATE, Action.KEEP]
    assert result.changes[1].differences[0].field == "built on"
    assert result.kinds_to_fix() == (Kind.HOSTED_ZONE, Kind.DELEGATION)
    assert result.keys_to_fix(Kind.DELEGATION) == frozenset({"sub"})
