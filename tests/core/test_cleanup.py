"""Cleanup's pure decisions: what is the stack's to delete, what is shared, what is left."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.cleanup import (
    dashboard_records_to_delete,
    delegated_zone,
    deletions_by_zone,
    record_lookups,
    recorded_subnet_tags,
    resolve_spec,
    still_present,
    unneeded_validation_records,
    validation_candidates,
)
from core.cleanup_report import (
    cleanup_summary,
    held,
    incomplete,
    kept,
    leftover_rows,
    leftovers,
)
from core.errors import ResourceNotFound, SpecError
from core.kinds import CHECKED
from core.kubestate import ControllerState, IngressState
from core.naming import MANAGED_BY_TAG, TOOL, ownership_labels
from core.observation import Observation, Sweep
from core.resources import (
    AliasTarget,
    CertificateState,
    ControllerResources,
    HostedZoneState,
    RecordSetState,
    RoleState,
    SubnetTagChange,
    ValidationRecord,
)
from core.sharing import user_key
from core.spec import StackSpec, load_spec
from core.state import Kind, StackRecord, StackResource

STACK = "platform-example-com"
NS = ("ns-1.awsdns-00.com", "ns-2.awsdns-00.net")
ZONE = HostedZoneState(zone_id="ZSUB", name="platform.example.com", name_servers=NS, owned=True)
SUB_RECORD = ValidationRecord(domains=("*.platform.example.com",), name="_a.platform.example.com",
                              value="_x.acm-validations.aws", zone_id="ZSUB",
                              zone_name="platform.example.com")  # fmt: skip
ROOT_RECORD = ValidationRecord(domains=("*.example.com",), name="_b.example.com",
                               value="_y.acm-validations.aws", zone_id="ZROOT",
                               zone_name="example.com")  # fmt: skip


def _certificate(arn: str, *records: ValidationRecord, owned: bool = True) -> CertificateState:
    return CertificateState(arn=arn, domain="*.x", status="ISSUED", validation_records=records,
                            owned=owned)  # fmt: skip


def _record(*resources: StackResource) -> StackRecord:
    return StackRecord(stack=STACK, resources=resources)


_SEEN = {"zone", "delegation", "controller", "ingress", "policy", "role", "pod_identity"}


def Survey(*, stack: str = STACK, root_zone_id: str | None = None, **found: Any) -> Observation:
    """A cleanup observation: the stack's items, and what its marks lead to (the sweep)."""
    assert stack == STACK
    root = HostedZoneState(zone_id=root_zone_id, name="example.com") if root_zone_id else None
    seen = {key: value for key, value in found.items() if key in _SEEN}
    sweep = Sweep(**{key: value for key, value in found.items() if key not in _SEEN})
    return Observation(observed_at=datetime.now(UTC), root_zone=root, sweep=sweep, **seen)


def _with(seen: Observation, **sweep: Any) -> Observation:
    return seen.model_copy(update={"sweep": (seen.sweep or Sweep()).model_copy(update=sweep)})


@pytest.fixture
def spec() -> StackSpec:
    return load_spec((Path(__file__).parents[2] / "examples" / "sandbox.yaml").read_text())


def test_the_spec_comes_from_the_caller_or_the_block(spec: StackSpec) -> None:
    assert resolve_spec(STACK, spec, None) is spec
    with pytest.raises(SpecError, match="not 'other'"):
        resolve_spec("other", spec, None)
    saved = StackRecord(stack=STACK, spec=spec.model_dump(mode="json", by_alias=True))
    assert resolve_spec(STACK, None, saved) == spec
    with pytest.raises(ResourceNotFound, match="Pass the stack's spec"):
        resolve_spec(STACK, None, None)


def test_only_owned_subnet_tags_with_full_details_come_from_the_record() -> None:
    tag = {"subnet_id": "subnet-1", "key": "kubernetes.io/role/elb", "value": "1"}
    record = _record(
        StackResource(kind=Kind.SUBNET_TAG, id="subnet-1/k", owned=True, details=tag),
        StackResource(kind=Kind.SUBNET_TAG, id="subnet-2/k", owned=False, details=tag),
        StackResource(kind=Kind.SUBNET_TAG, id="subnet-3/k", owned=True),
    )
    assert recorded_subnet_tags(record) == (SubnetTagChange(**tag),)
    assert recorded_subnet_tags(None) == ()


def test_validation_candidates_are_recorded_or_of_our_certificates_once_each() -> None:
    recorded = StackResource(kind=Kind.VALIDATION_RECORD, id="ZSUB/_a.platform.example.com/CNAME",
                             name="_A.platform.example.com.", owned=True,
                             details={"zone_id": "ZSUB", "value": SUB_RECORD.value})  # fmt: skip
    manual = ROOT_RECORD.model_copy(update={"zone_id": None, "name": "_m.example.com"})
    certificates = [
        _certificate("arn:ours", SUB_RECORD, ROOT_RECORD, manual),
        _certificate(
            "arn:theirs", ROOT_RECORD.model_copy(update={"name": "_c.example.com"}), owned=False
        ),  # fmt: skip
    ]
    found = validation_candidates(_record(recorded), certificates)
    assert [(r.zone_id, r.name) for r in found] == [
        ("ZSUB", "_a.platform.example.com"),
        ("ZROOT", "_b.example.com"),
    ]
    assert record_lookups(found) == {
        "ZSUB": [("_a.platform.example.com", "CNAME")],
        "ZROOT": [("_b.example.com", "CNAME")],
    }


def test_present_means_same_name_and_value() -> None:
    present = [
        RecordSetState(name="_A.platform.example.com.", type="CNAME", values=(SUB_RECORD.value + ".",)),
        RecordSetState(name="_b.example.com", type="CNAME", values=("_other.acm-validations.aws",)),
    ]  # fmt: skip
    assert still_present([SUB_RECORD, ROOT_RECORD], present) == (SUB_RECORD,)


def test_a_validation_record_another_certificate_uses_is_kept() -> None:
    theirs = _certificate("arn:theirs", ROOT_RECORD.model_copy(update={"name": "_B.example.com."}),
                          owned=False)  # fmt: skip
    assert unneeded_validation_records([SUB_RECORD, ROOT_RECORD], [theirs]) == (SUB_RECORD,)
    assert unneeded_validation_records([SUB_RECORD, ROOT_RECORD], []) == (SUB_RECORD, ROOT_RECORD)
    batches = deletions_by_zone([SUB_RECORD, ROOT_RECORD])
    assert {zone: [c.action for c in changes] for zone, changes in batches.items()} == {
        "ZSUB": ["DELETE"],
        "ZROOT": ["DELETE"],
    }


def _dashboard(target: str) -> RecordSetState:
    alias = AliasTarget(hosted_zone_id="Z2", dns_name=f"dualstack.{target}")
    return RecordSetState(name="*.platform.example.com", type="A", alias=alias)


def test_dashboard_records_are_ours_by_zone_record_or_target() -> None:
    ours, theirs = _dashboard("k8s-ours.elb.amazonaws.com"), _dashboard("other.elb.amazonaws.com")
    cname = RecordSetState(name="*.platform.example.com", type="CNAME", values=("x.example.org",))
    survey = Survey(stack=STACK, zone=ZONE, dashboard_records=(ours, theirs, cname))
    assert dashboard_records_to_delete(survey, None, STACK) == (ours, theirs, cname)

    adopted = survey.model_copy(update={"zone": ZONE.model_copy(update={"owned": False})})
    assert dashboard_records_to_delete(adopted, None, STACK) == ()
    balancer = StackResource(kind=Kind.LOAD_BALANCER, id="arn:lb", name="K8S-ours.elb.amazonaws.com",
                             owned=True)  # fmt: skip
    recorded = StackResource(kind=Kind.DNS_RECORD, id="ZSUB/*.platform.example.com/CNAME",
                             name="*.platform.example.com", owned=True,
                             details={"type": "CNAME"})  # fmt: skip
    assert dashboard_records_to_delete(adopted, _record(balancer, recorded), STACK) == (ours, cname)
    ingress = IngressState(namespace="istio-system", name="istio-ingress",
                           labels=ownership_labels(STACK),
                           hostname="other.elb.amazonaws.com")  # fmt: skip
    with_ingress = adopted.model_copy(update={"ingress": ingress})
    assert dashboard_records_to_delete(with_ingress, None, STACK) == (theirs,)


def test_the_delegation_is_ours_only_when_it_points_at_our_zone() -> None:
    delegation = RecordSetState(name="platform.example.com", type="NS", ttl=300,
                                values=tuple(reversed(NS)))  # fmt: skip
    survey = Survey(stack=STACK, zone=ZONE, root_zone_id="ZROOT", delegation=delegation)
    assert delegated_zone(survey, None) == ZONE
    elsewhere = delegation.model_copy(update={"values": ("ns.other.org",)})
    assert delegated_zone(survey.model_copy(update={"delegation": elsewhere}), None) is None
    adopted = survey.model_copy(update={"zone": ZONE.model_copy(update={"owned": False})})
    assert delegated_zone(adopted, None) is None

    zone_gone = survey.model_copy(update={"zone": None})
    assert delegated_zone(zone_gone, None) is None
    recorded = StackResource(kind=Kind.HOSTED_ZONE, id="ZSUB", name="platform.example.com",
                             owned=True, details={"name_servers": ",".join(NS)})  # fmt: skip
    rebuilt = delegated_zone(zone_gone, _record(recorded))
    assert rebuilt is not None
    assert (rebuilt.zone_id, rebuilt.name_servers) == ("ZSUB", NS)


def test_leftovers_list_what_is_ours_per_kind_and_kept_says_why_the_rest_stays() -> None:
    clean = leftovers(STACK, Survey(stack=STACK), None)
    assert set(clean) == {kind.value for kind in Kind if kind not in CHECKED}
    assert not any(clean.values())

    theirs = _certificate("arn:theirs", ROOT_RECORD, owned=False)
    survey = Survey(
        stack=STACK,
        zone=ZONE,
        certificates=(_certificate("arn:ours"), theirs),
        validation_records=(SUB_RECORD, ROOT_RECORD),
        subnet_tags=(SubnetTagChange(subnet_id="subnet-1", key="k", value="1"),),
        controller=ControllerState(ingress_class="alb", class_controller="eks.amazonaws.com/alb"),
        load_balancers=ControllerResources(security_group_ids=("sg-1",)),
    )
    adopted = StackResource(kind=Kind.OIDC_PROVIDER, id="arn:oidc", owned=False)
    left = leftovers(STACK, survey, _record(adopted))
    assert {kind: items for kind, items in left.items() if items} == {
        "hosted-zone": ["ZSUB (platform.example.com)"],
        "certificate": ["arn:ours (*.x)"],
        "validation-record": ["_a.platform.example.com CNAME in zone ZSUB"],
        "subnet-tag": ["subnet-1 k=1"],
        "load-balancer": ["sg-1"],
    }
    reasons = {(k.kind, k.resource): k.reason for k in kept(STACK, survey, _record(adopted))}
    assert reasons == {
        ("oidc-provider", "arn:oidc"): "pre-existing; adopted by setup, not created by it",
        ("controller", "eks-auto-mode"): "not installed by this stack (IngressClass alb)",
        ("validation-record", "_b.example.com"): "still validates arn:theirs",
    }
    error = incomplete(STACK, left)
    assert "hosted-zone: ZSUB (platform.example.com)" in str(error)
    assert "load-balancer: sg-1" in str(error)


def test_the_report_and_table_show_leftovers_then_what_was_kept() -> None:
    keep = kept(STACK, Survey(stack=STACK, zone=ZONE.model_copy(update={"owned": False})), None)
    clean = leftovers(STACK, Survey(stack=STACK), None)
    summary = cleanup_summary(STACK, clean, keep, ["The block was lost."])
    assert "nothing left" in summary
    assert "- **hosted-zone** ZSUB: pre-existing zone of platform.example.com" in summary
    assert summary.rstrip().endswith("- The block was lost.")
    assert leftover_rows(clean, ()) == [
        {"kind": "-", "resource": "nothing left", "status": "clean", "why": "-"}
    ]
    rows = leftover_rows({"iam-role": ["arn:role"]}, keep)
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("iam-role", "left behind"),
        ("hosted-zone", "kept"),
    ]


def test_bindings_of_the_ingress_name_are_ours_unless_someone_else_owns_that_ingress() -> None:
    binding = ("TargetGroupBinding istio-system/k8s-istiosys-tg",)
    ours = IngressState(namespace="istio-system", name="istio-ingress",
                        labels=ownership_labels(STACK))  # fmt: skip
    theirs = ours.model_copy(update={"labels": {}})
    for ingress, expected in ((ours, ["istio-system/istio-ingress", *binding]),
                              (None, list(binding)), (theirs, [])):  # fmt: skip
        survey = Survey(stack=STACK, ingress=ingress, ingress_bindings=binding)
        assert leftovers(STACK, survey, None)["ingress"] == expected


def test_an_unused_backend_group_is_ours_only_if_the_stack_installed_the_controller() -> None:
    survey = Survey(stack=STACK, backend_security_group="sg-backend")
    installed = StackResource(kind=Kind.CONTROLLER, id="aws-load-balancer-controller", owned=True)
    assert leftovers(STACK, survey, _record(installed))["load-balancer"] == ["sg-backend"]
    assert kept(STACK, survey, _record(installed)) == ()
    assert leftovers(STACK, survey, None)["load-balancer"] == []
    (item,) = kept(STACK, survey, None)
    assert (item.kind, item.resource) == ("load-balancer", "sg-backend")


def test_the_delegation_to_an_adopted_zone_is_ours_when_the_stack_wrote_it() -> None:
    from core.records import delegation_resource

    delegation = RecordSetState(name="platform.example.com", type="NS", ttl=300, values=NS)
    adopted = ZONE.model_copy(update={"owned": False})
    survey = Survey(stack=STACK, zone=adopted, root_zone_id="ZROOT", delegation=delegation)
    root = HostedZoneState(zone_id="ZROOT", name="example.com", name_servers=NS)
    found = delegation_resource(root, adopted)  # it was there before setup
    assert not found.owned
    assert delegated_zone(survey, _record(found)) is None
    written = delegation_resource(root, adopted, added=True)
    assert delegated_zone(survey, _record(written)) == adopted
    # A later setup finds it in place (nothing to add): it is still the stack's.
    again = _record(written).with_resources(found)
    assert again.resources[0].owned


def test_the_destroy_preview_deletes_what_is_ours_releases_what_is_shared_and_says_why() -> None:
    from core import sharing
    from core.cleanup_report import destroy_rows
    from core.resources import PolicyState

    shared_tags = {"app.kubernetes.io/managed-by": "kubeflow-alb",
                   sharing.user_key(STACK): STACK, sharing.user_key("team2"): "team2"}  # fmt: skip
    policy = PolicyState(arn="arn:aws:iam::1:policy/p", name="p", default_version="v1",
                         document_matches=True, owned=True, tags=shared_tags)  # fmt: skip
    seen = Survey(zone=ZONE, policy=policy, certificates=(_certificate("arn:ours"),),
                  controller=ControllerState(ingress_class="alb", class_controller="eks.amazonaws.com/alb"))  # fmt: skip
    rows = {(row["action"], row["kind"], row["resource"]): row["why"]
            for row in destroy_rows(STACK, seen, None)}  # fmt: skip
    assert rows[("delete", "hosted-zone", "ZSUB (platform.example.com)")] == "the stack's"
    assert rows[("delete", "certificate", "arn:ours (*.x)")] == "the stack's"
    assert rows[("release", "iam-policy", "arn:aws:iam::1:policy/p")] == "shared: stays for team2"
    assert rows[("leave", "controller", "eks-auto-mode")].startswith("not installed by this stack")
    alone = policy.model_copy(
        update={"tags": {k: v for k, v in shared_tags.items() if "team2" not in k}}
    )
    rows = {
        (row["action"], row["kind"])
        for row in destroy_rows(STACK, _with(seen.model_copy(update={"policy": alone})), None)
    }
    assert ("delete", "iam-policy") in rows  # its last user deletes it


def test_a_shared_item_whose_release_was_cut_short_is_still_the_recorded_stacks() -> None:
    """Killed between taking its mark off the role and deleting it: no stack's mark is left, so
    only the stack whose record lists the role may finish the release; a mark of another stack
    (one that joined meanwhile) keeps it theirs."""
    arn = "arn:aws:iam::1:role/kfalb-kubeflow-lbc"
    made = {MANAGED_BY_TAG: TOOL}

    def role(tags: dict[str, str]) -> RoleState:
        return RoleState(arn=arn, name="kfalb-kubeflow-lbc", trust_matches=True, owned=True,
                         tags=tags)  # fmt: skip

    recorded = _record(StackResource(kind=Kind.IAM_ROLE, id=arn, owned=True))
    unmarked = role(made)
    assert held(role({**made, user_key(STACK): STACK}), STACK) is not None
    assert held(unmarked, STACK) is None  # no record: not provably this stack's
    assert held(unmarked, STACK, _record()) is None
    assert held(unmarked, STACK, recorded) is unmarked
    assert held(role({**made, user_key("other"): "other"}), STACK, recorded) is None
    survey = Survey(role=unmarked)
    assert leftovers(STACK, survey, recorded)["iam-role"] == [arn]
    assert leftovers(STACK, survey, None)["iam-role"] == []
