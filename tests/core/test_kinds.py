"""The table of kinds is one acyclic graph that orders apply and cleanup, with each kind's
policy, and the walk's nodes follow from it."""

from __future__ import annotations

import pytest

from core.kinds import (
    CHECKED,
    TABLE,
    Policy,
    active_kinds,
    apply_order,
    before,
    cleanup_order,
    rebuilt_with,
    removed_after,
)
from core.state import Kind

pytestmark = pytest.mark.pure


def test_every_kind_has_one_entry_and_apply_order_follows_what_each_reads() -> None:
    assert set(TABLE) == set(Kind)
    order = apply_order()
    assert set(order) == set(Kind)
    for kind in Kind:
        assert all(order.index(dep) < order.index(kind) for dep in before(kind)), kind


def test_cleanup_is_the_graph_reversed_with_its_own_edges_winning() -> None:
    order = cleanup_order()
    assert set(order) == set(Kind) - CHECKED  # checked facts have nothing to remove
    for kind in order:
        assert all(order.index(dep) < order.index(kind) for dep in removed_after(kind)), kind
    # what is made from a kind goes before it ...
    assert order.index(Kind.INGRESS) < order.index(Kind.CONTROLLER)
    assert order.index(Kind.IAM_ROLE) < order.index(Kind.IAM_POLICY)
    assert order.index(Kind.DELEGATION) < order.index(Kind.HOSTED_ZONE)
    # ... unless a cleanup-only edge turns it round: a validation record stays while a
    # certificate validates through it; the ALB goes with its front door; the record first.
    assert order.index(Kind.CERTIFICATE) < order.index(Kind.VALIDATION_RECORD)
    assert order.index(Kind.INGRESS) < order.index(Kind.LOAD_BALANCER)
    assert order.index(Kind.DNS_RECORD) < order.index(Kind.INGRESS)
    # the Gateway front door the same way; its CRDs outlive the controller that watches them
    assert order.index(Kind.DNS_RECORD) < order.index(Kind.GATEWAY)
    assert order.index(Kind.GATEWAY) < order.index(Kind.LOAD_BALANCER)
    assert order.index(Kind.GATEWAY) < order.index(Kind.CONTROLLER)
    assert order.index(Kind.CONTROLLER) < order.index(Kind.GATEWAY_API)


def test_the_gateway_api_crds_are_there_before_the_controller_starts() -> None:
    order = apply_order()
    assert order.index(Kind.GATEWAY_API) < order.index(Kind.CONTROLLER)
    assert order.index(Kind.CONTROLLER) < order.index(Kind.GATEWAY)
    assert Kind.GATEWAY in before(Kind.LOAD_BALANCER)
    assert Kind.LOAD_BALANCER in active_kinds([Kind.GATEWAY])
    assert rebuilt_with([Kind.CERTIFICATE]) == {
        Kind.INGRESS: (Kind.CERTIFICATE,),
        Kind.GATEWAY: (Kind.CERTIFICATE,),
    }


def test_policies_say_who_owns_each_kind() -> None:
    shared = {kind for kind, entry in TABLE.items() if entry.policy is Policy.SHARED}
    assert shared == {Kind.SUBNET_TAG, Kind.OIDC_PROVIDER, Kind.IAM_POLICY, Kind.IAM_ROLE,
                      Kind.POD_IDENTITY, Kind.CONTROLLER, Kind.GATEWAY_API}  # fmt: skip
    assert {Kind.ALB_ANSWER, Kind.DNS_ANSWER, Kind.HTTPS_ANSWER} == CHECKED
    assert TABLE[Kind.LOAD_BALANCER].policy is Policy.CONTROLLER


def test_what_a_new_resource_rebuilds() -> None:
    assert rebuilt_with([Kind.HOSTED_ZONE]) == {
        Kind.DELEGATION: (Kind.HOSTED_ZONE,),
        Kind.VALIDATION_RECORD: (Kind.HOSTED_ZONE,),
        Kind.DNS_RECORD: (Kind.HOSTED_ZONE,),
    }
    assert rebuilt_with([Kind.IAM_POLICY, Kind.OIDC_PROVIDER]) == {
        Kind.IAM_ROLE: (Kind.IAM_POLICY, Kind.OIDC_PROVIDER)
    }


def test_apply_works_on_what_is_marked_what_is_built_from_it_and_the_checks() -> None:
    assert active_kinds([]) == frozenset()
    assert active_kinds([Kind.SUBNET_TAG]) == {Kind.SUBNET_TAG, *CHECKED}
    # a controller-built kind follows what it is built from
    assert Kind.LOAD_BALANCER in active_kinds([Kind.INGRESS])
    assert Kind.LOAD_BALANCER not in active_kinds([Kind.CERTIFICATE])
