"""The drift check's desired items and observed fields: only declared fields, normalised, count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import naming
from core.desired import policy_name, role_name
from core.items_dns import ALB_ADDRESSES, HTTPS_OK
from core.kinds import desired_items
from core.kinds import stack_plan as drift_plan
from core.kubestate import ControllerState, IngressState
from core.manifests import ALB_PREFIX, LBC_CONTROLLER
from core.observation import Observation
from core.plan import Action
from core.plan_output import drift_rows, drifted_names
from core.resources import (
    AliasTarget,
    CertificateState,
    ClusterState,
    HostedZoneState,
    ListenerState,
    LoadBalancerState,
    OidcProviderState,
    PolicyState,
    RecordSetState,
    RoleState,
    SubnetState,
    ValidationRecord,
)
from core.spec import StackSpec, parse_spec
from core.state import Kind
from core.webhook_ca import WEBHOOK_CA_MATCHES

NOW = datetime(2026, 11, 26, tzinfo=UTC)
SUB_ARN = "arn:aws:acm:us-west-2:111122223333:certificate/sub"
ROOT_ARN = "arn:aws:acm:us-west-2:111122223333:certificate/root"
ALB = "k8s-istio-abc.us-west-2.elb.amazonaws.com"
NS = ("ns-1.awsdns-01.org", "ns-2.awsdns-02.com")
ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/ABC"
OURS = naming.ownership_tags("platform-example-com")
INGRESS_KEY = "istio-system/istio-ingress"
LOAD_BALANCER_KEY = f"ALB of Ingress {INGRESS_KEY}"


@pytest.fixture
def spec() -> StackSpec:
    return parse_spec(
        {
            "cluster": {"name": "kubeflow", "region": "us-west-2"},
            "route53": {
                "rootDomain": {"name": "example.com"},
                "subDomain": {"name": "platform.example.com"},
            },  # fmt: skip
        }
    )


def _certificate(arn: str, domain: str, zone_id: str, zone_name: str) -> CertificateState:
    record = ValidationRecord(domains=(domain,), name=f"_x.{zone_name}", value="_v.acm-validations.aws.",
                              zone_id=zone_id, zone_name=zone_name)  # fmt: skip
    return CertificateState(arn=arn, domain=domain, status="ISSUED", owned=True, tags=OURS,
                            not_after=NOW + timedelta(days=300), validation_records=(record,))  # fmt: skip


def ready(spec: StackSpec) -> Observation:
    """What observation finds right after setup installed the controller. The Ingress's source
    is not given: what is declared of the Ingress and its ALB is then the minimum (scheme,
    certificates, labels; the ALB active), which the scenario tests extend to the whole
    rendered Ingress."""
    public = SubnetState(subnet_id="subnet-pub", vpc_id="vpc-1", public=True,
                         tags={"kubernetes.io/role/elb": "1", "kubernetes.io/cluster/kubeflow": "shared"})  # fmt: skip
    balancer = LoadBalancerState(
        arn="arn:aws:elasticloadbalancing:us-west-2:1:loadbalancer/app/k8s/1", name="k8s",
        dns_name=ALB, state="active", scheme="internet-facing", canonical_hosted_zone_id="Z35SX",
        listeners=(ListenerState(arn="l-1", port=443, protocol="HTTPS", certificate_arns=(SUB_ARN,)),),
    )  # fmt: skip
    ingress = IngressState(
        namespace="istio-system", name="istio-ingress", ingress_class="alb", hostname=ALB,
        annotations={f"{ALB_PREFIX}certificate-arn": f"{SUB_ARN},{ROOT_ARN}",
                     f"{ALB_PREFIX}scheme": "internet-facing", f"{ALB_PREFIX}target-type": "ip",
                     "kubectl.kubernetes.io/last-applied-configuration": "{}"},
        labels={**naming.ownership_labels(spec.name), "app.kubernetes.io/part-of": "kubeflow-alb"},
    )  # fmt: skip
    sub = _certificate(SUB_ARN, "*.platform.example.com", "ZSUB", "platform.example.com")
    root = _certificate(ROOT_ARN, "*.example.com", "ZROOT", "example.com")
    return Observation(
        observed_at=NOW,
        cluster=ClusterState(name="kubeflow", region="us-west-2", arn="arn:eks", status="ACTIVE",
                             version="1.33", oidc_issuer=f"https://{ISSUER}"),  # fmt: skip
        subnets=(public,),
        root_zone=HostedZoneState(zone_id="ZROOT", name="example.com"),
        zone=HostedZoneState(zone_id="ZSUB", name="platform.example.com", name_servers=NS, owned=True,
                             tags=OURS),
        # Route53 answers in its own spelling: upper case, trailing dots.
        delegation=RecordSetState(name="platform.example.com", type="NS", ttl=300,
                                  values=tuple(f"{ns.upper()}." for ns in reversed(NS))),
        certificates={"*.platform.example.com": sub, "*.example.com": root},
        validation_records={
            "_x.platform.example.com": RecordSetState(name="_x.platform.example.com", type="CNAME",
                                                      ttl=300, values=("_V.acm-validations.aws",)),
            "_x.example.com": RecordSetState(name="_x.example.com", type="CNAME", ttl=300,
                                             values=("_v.acm-validations.aws.",)),
        },
        controller=ControllerState(ingress_class="alb", class_controller=LBC_CONTROLLER,
                                   deployment="kube-system/aws-load-balancer-controller",
                                   ready_replicas=1, owned=True, users=(spec.name,),
                                   version="v3.5.0", webhook_ca=WEBHOOK_CA_MATCHES),
        oidc_provider=OidcProviderState(arn=f"arn:aws:iam::1:oidc-provider/{ISSUER}", url=ISSUER,
                                        client_ids=("sts.amazonaws.com",), owned=True, tags=OURS),
        policy=PolicyState(arn="arn:aws:iam::1:policy/p", name="p", default_version="v1",
                           document_matches=True, owned=True, tags=OURS),
        role=RoleState(arn="arn:aws:iam::1:role/r", name="r", trust_matches=True, owned=True, tags=OURS,
                       attached_policy_arns=(f"arn:aws:iam::1:policy/{policy_name(spec)}",)),
        ingress=ingress,
        load_balancer=balancer,
        dashboard_record=RecordSetState(name="*.platform.example.com", type="A", alias=AliasTarget(
            hosted_zone_id="Z35SX", dns_name=f"DualStack.{ALB.upper()}.", evaluate_target_health=True)),
        host_answers=("127.0.0.1",),
        alb_answers=("127.0.0.1", "127.0.0.2"),
        https_ok=True,
    )  # fmt: skip


def _drift(spec: StackSpec, seen: Observation) -> dict[str, list[tuple[str, str, str]]]:
    result = drift_plan(spec, seen)
    return {
        f"{c.item.kind.value} {c.item.key}": [(d.field, d.expected, d.found) for d in c.differences]
        for c in result.drift
    }


def test_a_set_up_stack_has_no_drift_whatever_the_servers_spelling(spec: StackSpec) -> None:
    result = drift_plan(spec, ready(spec))
    assert result.converged
    kinds = [change.item.kind for change in result.changes]
    gateway = {Kind.GATEWAY, Kind.GATEWAY_API, Kind.FORMER_FRONT_DOOR}  # other front door
    # irsa: no association; the check through the ALB is made only when a record moves
    assert set(kinds) == set(Kind) - {Kind.POD_IDENTITY, Kind.ALB_ANSWER} - gateway
    assert kinds.count(Kind.SUBNET_TAG) == 2


def test_nothing_found_means_every_item_is_to_be_created(spec: StackSpec) -> None:
    seen = Observation(observed_at=NOW, root_zone=HostedZoneState(zone_id="ZROOT",
                                                                   name="example.com"))  # fmt: skip
    result = drift_plan(spec, seen)
    assert {change.action for change in result.changes} == {Action.CREATE}
    keys = [f"{c.item.kind.value} {c.item.key}" for c in result.changes]
    assert "validation-record for *.platform.example.com" in keys
    assert "subnet-tag subnets of cluster kubeflow" in keys
    assert f"iam-role {role_name(spec)}" in keys  # no controller yet: setup installs one


def test_items_follow_the_spec_and_the_world(spec: StackSpec) -> None:
    helm = ControllerState(ingress_class="alb", class_controller=LBC_CONTROLLER,
                           deployment="kube-system/aws-load-balancer-controller", ready_replicas=1)  # fmt: skip
    seen = ready(spec).model_copy(update={"controller": helm, "root_zone": None})
    items = desired_items(spec, seen)
    kinds = {item.kind for item in items}
    assert not kinds & {Kind.OIDC_PROVIDER, Kind.IAM_POLICY, Kind.IAM_ROLE, Kind.DELEGATION}
    assert drift_plan(spec, seen).converged  # their class, whatever its name, is fine
    recorded = seen.model_copy(update={"controller_recorded": True})
    assert Kind.IAM_ROLE in {item.kind for item in desired_items(spec, recorded)}


def test_changed_fields_are_reported_with_expected_and_found(spec: StackSpec) -> None:
    seen = ready(spec)
    assert seen.ingress is not None
    assert seen.dashboard_record is not None
    arns = {f"{ALB_PREFIX}certificate-arn": SUB_ARN}
    tampered_ingress = seen.ingress.model_copy(
        update={"annotations": {**seen.ingress.annotations, **arns}}
    )
    elsewhere = AliasTarget(hosted_zone_id="Z35SX", dns_name="dualstack.other.elb.amazonaws.com")
    other_alb = seen.dashboard_record.model_copy(update={"alias": elsewhere})
    expiring = seen.certificates["*.example.com"].model_copy(
        update={"not_after": NOW + timedelta(days=9)}
    )
    drift = _drift(spec, seen.model_copy(update={
        "ingress": tampered_ingress, "dashboard_record": other_alb, "host_answers": ("10.9.9.9",),
        "https_ok": False, "https_detail": "certificate not valid for kubeflow.platform.example.com",
        "certificates": {**seen.certificates, "*.example.com": expiring},
    }))  # fmt: skip
    assert drift == {
        f"ingress {INGRESS_KEY}": [
            ("annotation:certificate-arn", f"{SUB_ARN},{ROOT_ARN}", SUB_ARN)
        ],
        "dns-record *.platform.example.com": [("target", ALB, "other.elb.amazonaws.com")],
        "dns-answer kubeflow.platform.example.com at the resolvers": [
            ("answer", ALB_ADDRESSES, "10.9.9.9")
        ],
        "https-answer https://kubeflow.platform.example.com/": [
            ("answer", HTTPS_OK, "certificate not valid for kubeflow.platform.example.com")
        ],
        "certificate *.example.com": [("expiry", "in more than 14 days", "in 9 days")],
    }


def test_missing_and_changed_aws_resources(spec: StackSpec) -> None:
    seen = ready(spec)
    bare = seen.subnets[0].model_copy(update={"tags": {"kubernetes.io/cluster/kubeflow": "owned"}})
    lb = seen.load_balancer.model_copy(update={"state": "provisioning", "listeners": ()})  # type: ignore[union-attr]
    drift = _drift(spec, seen.model_copy(update={
        "subnets": (bare,), "load_balancer": lb,
        "role": seen.role.model_copy(update={"attached_policy_arns": ()}),  # type: ignore[union-attr]
        "policy": seen.policy.model_copy(update={"document_matches": False}),  # type: ignore[union-attr]
        "validation_records": {**seen.validation_records, "_x.example.com": None},
        "certificates": {"*.platform.example.com": seen.certificates["*.platform.example.com"]},
    }))  # fmt: skip
    assert drift == {
        "certificate *.example.com": [],  # missing: to create
        "validation-record for *.example.com": [],  # known once the certificate is requested
        "subnet-tag subnet-pub kubernetes.io/role/elb": [],  # a value we did not set is fine
        # The Ingress must name the new certificate's ARN, known only once it is requested.
        f"ingress {INGRESS_KEY}": [
            ("annotation:certificate-arn", SUB_ARN, f"{SUB_ARN},{ROOT_ARN}")
        ],
        f"iam-policy {policy_name(spec)}": [
            ("document", "the v3.5.0 document", "another document (default version v1)")
        ],
        f"iam-role {role_name(spec)}": [
            (f"attached {policy_name(spec)}", "attached", "not attached (no policy)")
        ],
        f"load-balancer {LOAD_BALANCER_KEY}": [("state", "active", "provisioning")],
    }


def test_apply_covers_the_drifted_kinds_only_in_apply_order(spec: StackSpec) -> None:
    seen = ready(spec)
    bare = seen.subnets[0].model_copy(update={"tags": {}})
    result = drift_plan(spec, seen.model_copy(update={
        "subnets": (bare,), "dashboard_record": None, "host_answers": (), "https_ok": None,
    }))  # fmt: skip
    assert result.kinds_to_fix() == (
        Kind.SUBNET_TAG, Kind.DNS_RECORD, Kind.DNS_ANSWER, Kind.HTTPS_ANSWER
    )  # fmt: skip
    assert "dns-record *.platform.example.com (missing)" in drifted_names(result)
    assert {row["status"] for row in drift_rows(result)} == {"create"}
    https_only = drift_plan(
        spec, seen.model_copy(update={"https_ok": False, "https_detail": "HTTP 503"})
    )
    assert https_only.kinds_to_fix() == (Kind.HTTPS_ANSWER,)  # checked again, nothing re-made


def test_a_new_zone_replans_what_is_built_on_it(spec: StackSpec) -> None:
    seen = ready(spec)
    zone_gone = drift_plan(spec, seen.model_copy(update={"zone": None}))
    assert zone_gone.kinds_to_fix()[:2] == (Kind.HOSTED_ZONE, Kind.DELEGATION)
    delegation = next(c for c in zone_gone.drift if c.item.kind is Kind.DELEGATION)
    assert delegation.action is Action.UPDATE
    assert [d.field for d in delegation.differences] == ["built on"]
    assert Kind.VALIDATION_RECORD in zone_gone.kinds_to_fix()
    assert Kind.INGRESS not in zone_gone.kinds_to_fix()  # the Ingress names no zone


def test_changed_stack_tags_are_planned_on_every_resource_we_own(spec: StackSpec) -> None:
    seen = ready(spec)
    tagged = parse_spec({**spec.model_dump(mode="json", by_alias=True),
                         "stack": {**spec.model_dump(mode="json", by_alias=True)["stack"],
                                   "tags": {"team": "ml"}}})  # fmt: skip
    result = drift_plan(tagged, seen)
    tag_changes = {
        (change.item.kind, difference.field)
        for change in result.drift
        for difference in change.differences
        if difference.field.startswith("tag:")
    }
    assert tag_changes == {
        # The OIDC provider, IAM policy and role are shared by the cluster's stacks: they carry
        # only their users' marks, no stack's own tags.
        (kind, "tag:team") for kind in (Kind.HOSTED_ZONE, Kind.CERTIFICATE)
    }  # fmt: skip
    adopted = seen.model_copy(update={"zone": seen.zone.model_copy(update={"owned": False})})  # type: ignore[union-attr]
    kinds = {change.item.kind for change in drift_plan(tagged, adopted).drift}
    assert Kind.HOSTED_ZONE not in kinds  # a zone we adopted is not ours to tag


def test_a_given_certificate_is_checked_issued_but_neither_tagged_nor_its_records_ours(
    spec: StackSpec,
) -> None:
    seen = ready(spec)
    given = seen.certificates["*.platform.example.com"].model_copy(
        update={"owned": False, "tags": {}, "status": "PENDING_VALIDATION"}
    )
    data = spec.model_dump(mode="json", by_alias=True)
    data["route53"]["subDomain"]["certARN"] = (
        "arn:aws:acm:us-west-2:111122223333:certificate/00000000-0000-0000-0000-000000000001"
    )
    spec = parse_spec(data)
    adopted = seen.model_copy(update={
        "certificates": {**seen.certificates, "*.platform.example.com": given},
    })  # fmt: skip
    drifted = _drift(spec, adopted)
    # Its status is still checked; no ownership tags are asked of it, its record is not ours.
    assert drifted["certificate *.platform.example.com"] == [
        ("status", "ISSUED", "PENDING_VALIDATION")
    ]
    keys = {
        item.key for item in desired_items(spec, adopted) if item.kind is Kind.VALIDATION_RECORD
    }
    assert keys == {"_x.example.com"}


def _pinned(spec: StackSpec, version: str) -> StackSpec:
    return parse_spec(
        {
            **spec.model_dump(mode="json", by_alias=True),
            "stack": {
                **spec.stack.model_dump(mode="json", by_alias=True),
                "controllerVersion": version,
            },
        }  # fmt: skip
    )


@pytest.mark.parametrize("version", ["v2.17.1", "v3.5.0"])
def test_the_controller_and_its_policy_declare_the_chosen_version(
    spec: StackSpec, version: str
) -> None:
    pinned = _pinned(spec, version)
    items = {item.kind: item for item in desired_items(pinned, ready(pinned))}
    assert items[Kind.CONTROLLER].fields["version"] == version
    assert items[Kind.IAM_POLICY].fields["document"] == f"the {version} document"


def test_a_version_change_is_drift_of_the_controller_only(spec: StackSpec) -> None:
    """The stack runs v2.17.1; the spec now says v3.5.0. The policy documents of the two are the
    same file, so the policy (default version matching) does not drift."""
    seen = ready(spec)
    assert seen.controller is not None
    on_v2 = seen.model_copy(
        update={"controller": seen.controller.model_copy(update={"version": "v2.17.1"})}
    )
    assert _drift(spec, on_v2) == {"controller ALB controller": [("version", "v3.5.0", "v2.17.1")]}
    assert drift_plan(_pinned(spec, "v2.17.1"), on_v2).converged
    assert drifted_names(drift_plan(spec, on_v2)) == ("controller ALB controller (version)",)


def test_an_untagged_controller_image_is_an_unknown_version(spec: StackSpec) -> None:
    seen = ready(spec)
    assert seen.controller is not None
    untagged = seen.model_copy(update={"controller": seen.controller.model_copy(
        update={"version": None})})  # fmt: skip
    assert _drift(spec, untagged) == {
        "controller ALB controller": [("version", "v3.5.0", "unknown")]
    }


def test_a_controller_that_is_not_ours_runs_the_version_its_owner_chose(spec: StackSpec) -> None:
    helm = ControllerState(ingress_class="alb", class_controller=LBC_CONTROLLER, version="v2.8.1",
                           deployment="kube-system/aws-load-balancer-controller", ready_replicas=1)  # fmt: skip
    seen = ready(spec).model_copy(update={"controller": helm})
    controller = next(i for i in desired_items(spec, seen) if i.kind == Kind.CONTROLLER)
    assert "version" not in controller.fields
    assert drift_plan(_pinned(spec, "v2.17.1"), seen).converged


def test_a_record_moves_only_when_it_points_at_another_alb(spec: StackSpec) -> None:
    """The check through the ALB (Kind.ALB_ANSWER) guards a move, not a first write or a
    rewrite to the same ALB (in any spelling or record type)."""
    from core.items_dns import record_moves

    seen = ready(spec)
    balancer = seen.load_balancer
    assert balancer is not None
    assert not record_moves(spec, seen, balancer)  # the same ALB, in Route53's spelling
    assert not record_moves(spec, seen.model_copy(update={"dashboard_record": None}), balancer)
    cname = RecordSetState(name="*.platform.example.com", type="CNAME", ttl=60, values=(ALB,))
    assert not record_moves(spec, seen.model_copy(update={"dashboard_record": cname}), balancer)
    other = balancer.model_copy(update={"dns_name": "k8s-other-2.us-west-2.elb.amazonaws.com"})
    assert record_moves(spec, seen, other)
