"""Several stacks on one cluster: the Ingress name and IngressGroup from the spec, the keys of
the model, a group member's share of a shared ALB, and the conflicts found before setup."""

from __future__ import annotations

from typing import Any

import pytest

from core import naming
from core.alb import alb_fields, desired_alb_fields
from core.desired import policy_name, role_name
from core.errors import SpecError
from core.ingress_group import GROUP_TAG, member_view
from core.items_front import load_balancer_key
from core.kinds import desired_items
from core.kinds import stack_plan as drift_plan
from core.kubestate import IngressState
from core.manifests import ALB_PREFIX, IngressParams, configure_ingress
from core.observation import Observation
from core.owners import HostRule, conflicts
from core.ownership import USERS, shared_found
from core.resources import (
    ActionState,
    HostedZoneState,
    ListenerState,
    LoadBalancerState,
    RecordSetState,
    RuleState,
    TargetGroupState,
)
from core.spec import StackSpec, parse_spec
from core.state import Kind
from core.webhook_ca import WEBHOOK_CA_MATCHES

BASE: dict[str, Any] = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {"rootDomain": {"name": "example.com"}, "subDomain": {"name": "team2.example.com"}},
}
ARN_A = "arn:aws:acm:us-west-2:1:certificate/a"
ARN_B = "arn:aws:acm:us-west-2:1:certificate/b"


def _spec(**stack: Any) -> StackSpec:
    return parse_spec({**BASE, "stack": stack})


def _bundled_ingress() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "istio-ingress", "namespace": "istio-system", "annotations": {}},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {
                "name": "istio-ingressgateway", "port": {"number": 80}}}}]}}]},
    }  # fmt: skip


def test_ingress_name_defaults_to_the_guides_and_is_validated() -> None:
    assert _spec().ingress_name == "istio-ingress"
    assert _spec().ingress_key == "istio-system/istio-ingress"
    assert _spec().ingress_host is None
    assert _spec(ingressName="team2").ingress_key == "istio-system/team2"
    with pytest.raises(SpecError, match="stack.ingressName: 'Team_2' is not a Kubernetes object"):
        _spec(ingressName="Team_2")


def test_ingress_group_is_validated_and_makes_the_rules_match_our_hosts() -> None:
    spec = _spec(ingressName="team2", ingressGroup="kubeflow.shared")
    assert spec.ingress_host == "*.team2.example.com"
    assert _spec(ingressGroup="").stack.ingress_group is None
    with pytest.raises(SpecError, match="stack.ingressGroup: '-x' is not an IngressGroup name"):
        _spec(ingressGroup="-x")


def test_configure_ingress_names_it_and_joins_the_group_without_the_stack_tag() -> None:
    tags = naming.ownership_tags("team2", {"team": "ml"})
    params = IngressParams(stack="team2", certificate_arns=(ARN_B,), scheme="internet-facing",
                           tags=tags, name="team2", group="shared", host="*.team2.example.com")  # fmt: skip
    obj = configure_ingress(_bundled_ingress(), params)
    meta = obj["metadata"]
    assert meta["name"] == "team2"
    assert meta["annotations"][naming.GROUP_ANNOTATION] == "shared"
    assert obj["spec"]["rules"][0]["host"] == "*.team2.example.com"
    # Members' tags annotations must agree on every key: the stack mark gives way to the group's.
    raw = meta["annotations"][ALB_PREFIX + "tags"]
    assert naming.STACK_TAG not in raw
    assert f"{GROUP_TAG}=shared" in raw
    assert "team=ml" in raw
    assert meta["labels"][naming.STACK_TAG] == "team2"  # the Ingress itself stays the stack's
    fields = desired_alb_fields(obj, cluster="kubeflow")
    assert fields["tag ingress.k8s.aws/stack"] == "shared"  # one controller stack per group


def test_configure_ingress_alone_keeps_its_own_alb() -> None:
    params = IngressParams(stack="a", certificate_arns=(ARN_A,), scheme="internal",
                           tags=naming.ownership_tags("a"))  # fmt: skip
    obj = configure_ingress(_bundled_ingress(), params)
    assert naming.GROUP_ANNOTATION not in obj["metadata"]["annotations"]
    assert "host" not in obj["spec"]["rules"][0]
    assert desired_alb_fields(obj, cluster="kubeflow")["tag ingress.k8s.aws/stack"] == (
        "istio-system/istio-ingress"
    )


def test_model_keys_follow_the_ingress_name_and_group() -> None:
    alone, member = _spec(ingressName="team2"), _spec(ingressName="team2", ingressGroup="shared")
    assert alone.ingress_key == "istio-system/team2"
    assert load_balancer_key(alone) == "ALB of Ingress istio-system/team2"
    assert load_balancer_key(member) == "ALB of IngressGroup shared"
    seen = Observation(observed_at=_now())
    keys = {(item.kind, item.key) for item in desired_items(member, seen)}
    assert (Kind.INGRESS, "istio-system/team2") in keys
    assert (Kind.LOAD_BALANCER, "ALB of IngressGroup shared") in keys


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 12, 1, tzinfo=UTC)


def _cluster() -> Any:
    from core.resources import ClusterState

    return ClusterState(name="kubeflow", region="us-west-2", arn="arn:aws:eks:us-west-2:1:cluster/kubeflow",
                        status="ACTIVE", version="1.33")  # fmt: skip


def _group(arn: str, label: str) -> TargetGroupState:
    return TargetGroupState(arn=arn, name=arn, target_type="ip", protocol="HTTP", port=8080,
                            tags={"ingress.k8s.aws/resource": label})  # fmt: skip


def _shared_alb() -> LoadBalancerState:
    """One ALB of group `shared` with stack a's and stack team2's parts, team2 second."""
    rules = (
        RuleState(arn="r1", priority="1", conditions={"host-header": ("*.a.example.com",),
                  "path-pattern": ("/*",)}, actions=(ActionState(type="forward", target_group_arns=("tg-a",)),)),
        RuleState(arn="r2", priority="2", conditions={"host-header": ("*.team2.example.com",),
                  "path-pattern": ("/*",)}, actions=(ActionState(type="forward", target_group_arns=("tg-b",)),)),
    )  # fmt: skip
    listener = ListenerState(arn="l", port=443, protocol="HTTPS", certificate_arns=(ARN_A, ARN_B),
                             ssl_policy="p", rules=rules)  # fmt: skip
    return LoadBalancerState(
        arn="alb", name="k8s-shared", dns_name="k8s-shared.elb", state="active",
        scheme="internet-facing", canonical_hosted_zone_id="Z", listeners=(listener,),
        target_groups=(_group("tg-a", "istio-system/istio-ingress-istio-ingressgateway:80"),
                       _group("tg-b", "istio-system/team2-istio-ingressgateway:80")),
    )  # fmt: skip


def test_member_view_keeps_our_rules_target_group_and_certificate_only() -> None:
    desired = {
        "listener HTTPS:443 certificate": ARN_B,
        "listener HTTPS:443 sni-certificates": "none",
    }
    view = member_view(_shared_alb(), ingress_key="istio-system/team2", desired=desired)
    (listener,) = view.listeners
    assert listener.certificate_arns == (ARN_B,)
    assert [(rule.arn, rule.priority) for rule in listener.rules or ()] == [("r2", "1")]
    assert [group.arn for group in view.target_groups] == ["tg-b"]
    fields = alb_fields(view)
    assert fields["listener HTTPS:443 rules"].startswith("1 host-header=*.team2.example.com")
    assert (
        "forward istio-system/team2-istio-ingressgateway:80" in fields["listener HTTPS:443 rules"]
    )


def test_member_view_shows_our_certificate_missing_from_the_shared_listener() -> None:
    desired = {
        "listener HTTPS:443 certificate": "arn:other",
        "listener HTTPS:443 sni-certificates": "none",
    }
    view = member_view(_shared_alb(), ingress_key="istio-system/team2", desired=desired)
    assert view.listeners[0].certificate_arns == (ARN_A, ARN_B)  # as found: drift


def _ingress(name: str, stack: str) -> IngressState:
    return IngressState(namespace="istio-system", name=name, labels=naming.ownership_labels(stack))


def test_no_conflicts_for_a_fresh_or_our_own_stack() -> None:
    spec = _spec(name="team2")
    assert conflicts(spec, Observation(observed_at=_now())) == ()
    ours = Observation(observed_at=_now(), ingress=_ingress("istio-ingress", "team2"))
    hosts = [HostRule("istio-system/istio-ingress", "*.team2.example.com", "team2")]
    assert conflicts(spec, ours, hosts=hosts) == ()


def test_ingress_of_another_stack_is_a_conflict_naming_it() -> None:
    seen = Observation(observed_at=_now(), ingress=_ingress("istio-ingress", "platform"))
    (found,) = conflicts(_spec(name="team2"), seen)
    assert "Ingress istio-system/istio-ingress belongs to kubeflow-alb stack 'platform'" in found
    assert "stack.ingressName" in found


def test_hosts_records_and_zones_of_other_owners_are_conflicts() -> None:
    spec = _spec(name="team2")
    seen = Observation(
        observed_at=_now(),
        zone=HostedZoneState(zone_id="ZT", name="team2.example.com", owned=False,
                             tags=naming.ownership_tags("other")),
        dashboard_record=RecordSetState(name="*.team2.example.com", type="CNAME", values=("x.",)),
    )  # fmt: skip
    hosts = [HostRule("apps/web", "*.team2.example.com", None),
             HostRule("apps/unrelated", "shop.example.com", None)]  # fmt: skip
    root = [RecordSetState(name="kubeflow.team2.example.com", type="A", values=("1.2.3.4",))]
    found = conflicts(spec, seen, hosts=hosts, root_records=root)
    assert len(found) == 4, found
    assert any("Ingress apps/web (another Ingress) already routes host *.team2" in f for f in found)
    assert any("root zone example.com already has a A record kubeflow.team2" in f for f in found)
    assert any("Hosted zone ZT (team2.example.com) belongs to kubeflow-alb stack 'other'" in f
               for f in found)  # fmt: skip
    assert any("Record *.team2.example.com CNAME in hosted zone ZT" in f and "already exists" in f
               for f in found)  # fmt: skip


def test_drift_of_a_group_member_compares_its_share_only() -> None:
    spec = _spec(name="team2", ingressName="team2", ingressGroup="shared")
    shared = _shared_alb()
    seen = Observation(observed_at=_now(), ingress_source=_bundled_ingress(),
                       gateway_target_port=8080, load_balancer=shared)  # fmt: skip
    changes = {
        difference.field
        for change in drift_plan(spec, seen).drift
        if change.item.kind is Kind.LOAD_BALANCER
        for difference in change.differences
    }
    assert not {f for f in changes if "rules" in f or "certificate" in f}, changes


def test_subnet_tags_are_held_by_every_stack_listing_them_and_go_with_the_last() -> None:
    from core import sharing

    role = "kubernetes.io/role/elb"
    tags = {role: "1", sharing.marker_key("a"): role, sharing.marker_key("b"): f"x,{role}"}
    assert sharing.tag_users(tags, role) == ("a", "b")
    assert sharing.users_text({role: "1"}, role) == sharing.PRE_EXISTING
    assert sharing.holds(tags, role, "a")
    assert sharing.holds({role: "1"}, role, "c")  # pre-existing: nobody removes it
    assert not sharing.holds({role: "1", sharing.marker_key("a"): role}, role, "c")
    assert sharing.kept_for_others(tags, role, {sharing.marker_key("a")})
    assert not sharing.kept_for_others(
        tags, role, {sharing.marker_key("a"), sharing.marker_key("b")}
    )


def test_a_subnet_tag_another_stack_added_is_drift_until_this_stack_holds_it() -> None:
    from core import sharing
    from core.resources import SubnetState

    role, cluster = "kubernetes.io/role/elb", "kubernetes.io/cluster/kubeflow"
    spec = _spec(name="team2")
    added_by_a = {role: "1", cluster: "shared", sharing.marker_key("a"): f"{cluster},{role}"}
    subnet = SubnetState(subnet_id="subnet-1", vpc_id="vpc", public=True, tags=added_by_a)
    seen = Observation(observed_at=_now(), subnets=(subnet,), cluster=_cluster())
    rows = {
        (change.item.key, d.field, d.found)
        for change in drift_plan(spec, seen).drift
        if change.item.kind is Kind.SUBNET_TAG
        for d in change.differences
    }
    assert (f"subnet-1 {role}", "held by this stack", "no") in rows
    both = {**added_by_a, sharing.marker_key("team2"): f"{cluster},{role}"}
    held = seen.model_copy(update={"subnets": (subnet.model_copy(update={"tags": both}),)})
    drifted = [c.item.key for c in drift_plan(spec, held).drift if c.item.kind is Kind.SUBNET_TAG]
    assert [key for key in drifted if key.startswith("subnet-1")] == []


def test_a_shared_item_is_used_by_its_marked_stacks_and_a_previous_version_holder_keeps_it() -> (
    None
):
    from core import sharing

    made_by_a = {**naming.ownership_tags("a"), sharing.user_key("a"): "a"}
    assert sharing.item_users(made_by_a) == ("a",)
    assert sharing.marks_to_hold(made_by_a, "b") == {sharing.user_key("b"): "b"}
    both = {**made_by_a, sharing.user_key("b"): "b"}
    assert sharing.item_users(both) == ("a", "b")
    only_b = {k: v for k, v in both.items() if k != sharing.user_key("a")}
    assert sharing.remaining_users(both, only_b, "a") == ("b",)  # a removes only its mark
    assert sharing.item_users(only_b) == ("b",)  # the maker's ownership tags no longer count
    assert sharing.remaining_users(only_b, {}, "b") == ()  # b's cleanup removes the item
    # The previous version marked an item with its stack's ownership tags only: that stack uses
    # it, and a second stack's hold keeps it a user by a mark of its own.
    legacy = naming.ownership_tags("a")
    assert sharing.item_users(legacy) == ("a",)
    assert sharing.marks_to_hold(legacy, "b") == {sharing.user_key("a"): "a",
                                                   sharing.user_key("b"): "b"}  # fmt: skip
    assert shared_found({"team": "x"}, "a")[USERS] == sharing.PRE_EXISTING
    assert not sharing.made_by_tool({naming.STACK_TAG: "a"})  # half a mark is not ours


def test_the_controller_role_and_policy_are_named_per_cluster_and_region() -> None:
    long = "c" * 100
    assert naming.controller_role_name("kubeflow", "us-west-2") != naming.controller_role_name(
        "kubeflow", "eu-west-1"
    )
    assert len(naming.controller_role_name(long, "us-west-2")) <= 64
    assert len(naming.controller_policy_name(long, "us-west-2")) <= 128
    spec_a, spec_b = _spec(name="a"), _spec(name="b", ingressName="b")
    assert role_name(spec_a) == role_name(spec_b)
    assert policy_name(spec_a) == policy_name(spec_b)


def test_plan_and_drift_show_who_uses_a_shared_controller_and_a_missing_hold_is_drift() -> None:
    from core.kubestate import ControllerState
    from core.manifests import LBC_CONTROLLER
    from core.plan_output import change_document, table_rows

    spec = _spec(name="team2", ingressName="team2")
    controller = ControllerState(ingress_class="alb", class_controller=LBC_CONTROLLER,
                                 deployment="kube-system/aws-load-balancer-controller",
                                 ready_replicas=1, owned=True, users=("a", "team2"),
                                 version="v3.5.0", webhook_ca=WEBHOOK_CA_MATCHES,
                                 role_annotation=f"arn:aws:iam::1:role/{role_name(spec)}")  # fmt: skip
    seen = Observation(observed_at=_now(), controller=controller)
    (change,) = [c for c in drift_plan(spec, seen).changes if c.item.kind is Kind.CONTROLLER]
    assert not change.drifted
    assert change.users == "a,team2"
    assert change_document(change)["users"] == ["a", "team2"]
    assert any(row["field"] == "users" and row["found"] == "a,team2"
               for row in table_rows(drift_plan(spec, seen)))  # fmt: skip
    # Used by stack a only: team2 must hold it too (setup then adds its mark).
    alone = seen.model_copy(update={"controller": controller.model_copy(update={"users": ("a",)})})
    (change,) = [c for c in drift_plan(spec, alone).drift if c.item.kind is Kind.CONTROLLER]
    assert [(d.field, d.found) for d in change.differences] == [("held by this stack", "no")]
