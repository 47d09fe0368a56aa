"""Every write of setup and cleanup, its answer lost once by the sandbox's fault layer.

For each mutating AWS operation the tasks make, the sandbox applies the request and then loses
the answer (a reset connection or a 500, seeded); botocore sends it again. The tasks of that
resource then run their whole life (create, converge, delete) and must end with one resource,
a re-run that changes nothing, and nothing left after the deletes. Each case loses exactly one
answer, of the operation named, at the step named; the `*` cases lose the first answer of every
write of the family at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.desired import policy_name, role_name
from core.resources import RecordChange, RecordSetState, ValidationZones
from core.sharing import creation_marks
from core.spec import StackSpec, parse_spec
from sandbox.aws.fault_rules import READ_PREFIXES as READS
from sandbox.aws.faults import FaultPlan
from tasks.aws import (
    acm,
    ec2,
    eks,
    elbv2,
    iam,
    iam_policy,
    owned,
    pod_identity,
    route53,
    route53_records,
)
from tests.tasks.aws.conftest import CONFIG
from tests.tasks.aws.test_aws_elbv2 import _make_alb

DOC_A = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}],
}
DOC_B = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeSubnets", "Resource": "*"}],
}
#: The dashboard record (an A set: the same change_records path as the alias to the ALB).
ALIAS = RecordSetState(name="*.platform.example.com", type="A", ttl=60, values=("192.0.2.10",))


@pytest.fixture(autouse=True)
def botocore_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's own retries are what meet the lost answer: let it send three times."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")


@dataclass
class Run:
    """What one family's steps share: the fixtures, and what earlier steps made."""

    ctx: Any
    spec: StackSpec
    world: Any
    boto: Callable[[str], Any]
    mutations: Callable[[Callable[[], Any]], list[str]]
    issued_certificate: Callable[[str, str], str]
    made: dict[str, Any] = field(default_factory=dict)


def _more_tags(spec: StackSpec) -> StackSpec:
    config = json.loads(json.dumps(CONFIG))
    config["stack"]["tags"] = {**config["stack"]["tags"], "cost-center": "42"}
    return parse_spec(config)


def _root_records(run: Run) -> set[tuple[str, str]]:
    found = run.boto("route53").list_resource_record_sets(HostedZoneId=run.world.root_zone_id)
    return {(record["Name"], record["Type"]) for record in found["ResourceRecordSets"]}


def _zones(run: Run) -> list[str]:
    zones = run.boto("route53").list_hosted_zones()["HostedZones"]
    return [z["Id"].rsplit("/", 1)[-1] for z in zones if z["Name"] == f"{run.spec.subdomain}."]


# -- the subdomain zone, its delegation and the dashboard record ---------------------------------


def _zone(run: Run) -> None:
    run.made.setdefault("root-records", _root_records(run))
    run.made["zone"] = route53.ensure_hosted_zone.fn(run.ctx, run.spec)


def _delegation(run: Run) -> None:
    route53.ensure_delegation.fn(run.ctx, run.world.root_zone_id, run.made["zone"])


def _record(run: Run) -> None:
    change = RecordChange(action="UPSERT", record=ALIAS)
    route53_records.change_records.fn(run.ctx, run.made["zone"].zone_id, [change])


def _dns_converged(run: Run) -> None:
    zone = run.made["zone"]
    assert _zones(run) == [zone.zone_id]  # one zone, however often its creation was sent
    tags = run.boto("route53").list_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone.zone_id
    )
    assert {t["Key"]: t["Value"] for t in tags["ResourceTagSet"]["Tags"]} == run.spec.tags
    delegation = route53_records.observe_record_set.fn(
        run.ctx, run.world.root_zone_id, run.spec.subdomain, "NS"
    )
    assert delegation is not None
    assert set(delegation.values) == set(zone.name_servers)
    record = route53_records.observe_record_set.fn(run.ctx, zone.zone_id, ALIAS.name, "A")
    assert record is not None
    assert record.same_as(ALIAS)

    def again() -> None:
        _zone(run)
        _delegation(run)
        _record(run)

    assert run.mutations(again) == []


def _record_delete(run: Run) -> None:
    zone = run.made["zone"]
    assert route53_records.delete_record_set.fn(run.ctx, zone.zone_id, ALIAS.name, "A")


def _delegation_delete(run: Run) -> None:
    assert route53.delete_delegation.fn(run.ctx, run.world.root_zone_id, run.made["zone"])


def _zone_delete(run: Run) -> None:
    route53.delete_hosted_zone.fn(run.ctx, run.spec)  # False: its own resend found it gone


def _dns_gone(run: Run) -> None:
    assert _zones(run) == []
    assert _root_records(run) == run.made["root-records"]


# -- a certificate and its validation record -----------------------------------------------------


def _request(run: Run) -> acm.CertificateRequest:
    return next(r for r in acm.desired_certificates(run.spec) if r.role == "root")


def _zones_of(run: Run) -> ValidationZones:
    return ValidationZones(
        subdomain=run.spec.subdomain, root=run.spec.root, root_zone_id=run.world.root_zone_id
    )


def _certificate(run: Run) -> None:
    run.made.setdefault("root-records", _root_records(run))
    run.made["certificate"] = acm.ensure_certificate.fn(
        run.ctx, run.spec, _request(run), zones=_zones_of(run)
    )


def _validation(run: Run) -> None:
    for zone_id, changes in acm.validation_changes([run.made["certificate"]]).items():
        route53_records.change_records.fn(run.ctx, zone_id, changes)


def _certificate_tags(run: Run) -> None:
    acm.ensure_certificate.fn(run.ctx, _more_tags(run.spec), _request(run), zones=_zones_of(run))


def _certificate_converged(run: Run) -> None:
    arn = run.made["certificate"].arn
    listed = run.boto("acm").list_certificates()["CertificateSummaryList"]
    assert [item["CertificateArn"] for item in listed] == [arn]
    tags = run.boto("acm").list_tags_for_certificate(CertificateArn=arn)["Tags"]
    assert {t["Key"]: t.get("Value") for t in tags} == _more_tags(run.spec).tags
    assert run.mutations(lambda: (_certificate_tags(run), _validation(run))) == []


def _certificate_delete(run: Run) -> None:
    assert acm.delete_certificate.fn(run.ctx, run.made["certificate"].arn, stack=run.spec.name) in (
        True,
        False,  # its own resend found it gone
    )
    assert run.boto("acm").list_certificates()["CertificateSummaryList"] == []


def _validation_delete(run: Run) -> None:
    for record in run.made["certificate"].validation_records:
        route53_records.delete_record_set.fn(run.ctx, record.zone_id, record.name, "CNAME")


def _certificate_gone(run: Run) -> None:
    assert run.boto("acm").list_certificates()["CertificateSummaryList"] == []
    assert _root_records(run) == run.made["root-records"]


# -- subnet tags ---------------------------------------------------------------------------------


def _subnet_tags(run: Run) -> dict[str, dict[str, str]]:
    ids = [*run.world.public_subnets, *run.world.private_subnets]
    found = run.boto("ec2").describe_subnets(SubnetIds=ids)["Subnets"]
    return {s["SubnetId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])} for s in found}


def _cluster(run: Run) -> Any:
    if "cluster" not in run.made:
        run.made["cluster"] = eks.preflight_cluster.fn(run.ctx, run.world.cluster_name)
    return run.made["cluster"]


def _tag(run: Run) -> None:
    run.made.setdefault("subnet-tags", _subnet_tags(run))
    ec2.ensure_subnet_tags.fn(run.ctx, _cluster(run), stack=run.spec.name)


def _tags_converged(run: Run) -> None:
    tags = _subnet_tags(run)
    for subnet in run.world.public_subnets:
        assert tags[subnet].get("kubernetes.io/role/elb") == "1"
    for subnet in run.world.private_subnets:
        assert tags[subnet].get("kubernetes.io/role/internal-elb") == "1"
    assert (
        run.mutations(
            lambda: ec2.ensure_subnet_tags.fn(run.ctx, _cluster(run), stack=run.spec.name)
        )
        == []
    )


def _untag(run: Run) -> None:
    added = ec2.observe_added_subnet_tags.fn(run.ctx, run.spec.name)
    ec2.delete_subnet_tags.fn(run.ctx, added)


def _tags_gone(run: Run) -> None:
    assert _subnet_tags(run) == run.made["subnet-tags"]


# -- the controller's IAM: OIDC provider, policy (versions), role --------------------------------


def _provider(run: Run, spec: StackSpec | None = None) -> None:
    run.made["provider"] = iam.ensure_oidc_provider.fn(run.ctx, spec or run.spec, _cluster(run))


def _release_provider(run: Run, spec: StackSpec) -> bool:
    """The stack's cleanup of the OIDC provider (its mark, then the provider if no mark is left)."""
    arn, cluster = run.made["provider"].arn, _cluster(run).name
    return bool(
        owned.delete_owned_oidc_provider.fn(run.ctx, arn, stack=spec.name, cluster_name=cluster)
    )


def _policy(run: Run, document: dict[str, Any] = DOC_A, spec: StackSpec | None = None) -> None:
    run.made["policy"] = iam_policy.ensure_policy.fn(run.ctx, spec or run.spec, document=document)


def _role(run: Run, spec: StackSpec | None = None) -> None:
    iam.ensure_role.fn(
        run.ctx, spec or run.spec, run.made["provider"], policy_arn=run.made["policy"].arn
    )


def _other_stack(spec: StackSpec, name: str = "team2") -> StackSpec:
    """Another stack of the same cluster: it shares the controller's IAM and association."""
    config = spec.model_dump(by_alias=True)
    config["stack"]["name"] = name
    return StackSpec.model_validate(config)


def _iam_tags(run: Run) -> None:
    """A second stack of the cluster holds the shared IAM too: its user marks."""
    other = _other_stack(run.spec)
    _provider(run, other)
    _policy(run, DOC_B, other)
    _role(run, other)


def _iam_release(run: Run) -> None:
    """The second stack leaves: only its marks go, the items stay for the first."""
    other = _other_stack(run.spec)
    assert iam.delete_role.fn(run.ctx, other) is False
    assert iam_policy.delete_policy.fn(run.ctx, other) is False
    assert _release_provider(run, other) is False


def _trust(run: Run) -> None:
    name = role_name(run.spec)
    run.boto("iam").update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(DOC_TRUST))
    _role(run)


DOC_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _default_version(run: Run) -> None:
    _policy(run, DOC_A)  # v1 holds DOC_A: made the default again


def _iam_converged(run: Run) -> None:
    client, spec = run.boto("iam"), run.spec
    providers = client.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in providers] == [run.made["provider"].arn]
    provider = client.get_open_id_connect_provider(OpenIDConnectProviderArn=providers[0]["Arn"])
    assert provider["ClientIDList"].count("sts.amazonaws.com") == 1
    policies = client.list_policies(Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in policies] == [policy_name(spec)]
    versions = client.list_policy_versions(PolicyArn=run.made["policy"].arn)["Versions"]
    assert len(versions) == 2  # DOC_A and DOC_B once each, whatever was sent twice
    roles = [r["RoleName"] for r in client.list_roles()["Roles"]]
    assert roles.count(role_name(spec)) == 1
    attached = client.list_attached_role_policies(RoleName=role_name(spec))
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [run.made["policy"].arn]

    def again() -> None:
        more = _more_tags(spec)
        _provider(run, more)
        _policy(run, DOC_A, more)
        _role(run, more)

    assert run.mutations(again) == []


def _inline_policy(run: Run) -> None:
    """Someone gave the role an inline policy: deleting the role deletes it first."""
    run.boto("iam").put_role_policy(
        RoleName=role_name(run.spec),
        PolicyName="extra",
        PolicyDocument=json.dumps(DOC_A),
    )


def _role_delete(run: Run) -> None:
    iam.delete_role.fn(run.ctx, run.spec)


def _policy_delete(run: Run) -> None:
    iam_policy.delete_policy.fn(run.ctx, run.spec)


def _provider_delete(run: Run) -> None:
    _release_provider(run, run.spec)


def _iam_gone(run: Run) -> None:
    client = run.boto("iam")
    assert client.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert client.list_policies(Scope="Local")["Policies"] == []
    roles = [r["RoleName"] for r in client.list_roles()["Roles"]]
    assert role_name(run.spec) not in roles


# -- what the controller left behind (cleanup's fallback) ----------------------------------------


def _leftovers(run: Run) -> None:
    certificate = run.issued_certificate(run.world.root_zone_id, "kubeflow.example.com")
    run.made["alb"] = alb = _make_alb(run.boto, run.world, run.spec, certificate, name="ours",
                                      ours=True)  # fmt: skip
    run.boto("elbv2").modify_load_balancer_attributes(  # protected, as kubeflow.alb's default
        LoadBalancerArn=alb.arn,
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
    )


def _leftovers_delete(run: Run) -> None:
    elbv2.delete_controller_resources.fn(run.ctx, run.spec)


def _leftovers_gone(run: Run) -> None:
    alb = run.made["alb"]
    assert elbv2.find_controller_resources.fn(run.ctx, run.spec).empty
    assert run.boto("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert run.boto("elbv2").describe_target_groups()["TargetGroups"] == []
    groups = run.boto("ec2").describe_security_groups(GroupIds=[alb.node_group])["SecurityGroups"]
    assert groups[0]["IpPermissions"] == []


# -- the controller's Pod Identity association (stack.controllerIdentity: pod-identity) ---------

ROLE = "arn:aws:iam::210987654321:role/kfalb-lbc"
OTHER_ROLE = "arn:aws:iam::210987654321:role/other"


def _associate(run: Run, spec: StackSpec | None = None, role: str = ROLE) -> None:
    data = (spec or run.spec).model_dump(by_alias=True)
    data["stack"]["controllerIdentity"] = "pod-identity"  # an IRSA stack's ensure releases it
    pod_identity.ensure_pod_identity_association.fn(
        run.ctx, StackSpec.model_validate(data), run.world.cluster_name, role_arn=role
    )


def _associations(run: Run) -> list[str]:
    listed = run.boto("eks").list_pod_identity_associations(clusterName=run.world.cluster_name)
    return [item["associationId"] for item in listed["associations"]]


def _association_converged(run: Run) -> None:
    assert len(_associations(run)) == 1
    found = pod_identity.observe_pod_identity_association.fn(
        run.ctx, run.spec, run.world.cluster_name
    )
    assert found is not None
    users = (run.spec.name, "team2")
    assert (found.role_arn, found.tags) == (OTHER_ROLE, creation_marks(run.spec.tags, users))
    assert run.mutations(lambda: _associate(run, _other_stack(run.spec), OTHER_ROLE)) == []


def _association_release(run: Run) -> None:
    other = _other_stack(run.spec)
    assert not pod_identity.delete_pod_identity_association.fn(
        run.ctx, other, run.world.cluster_name
    )


def _disassociate(run: Run) -> None:
    pod_identity.delete_pod_identity_association.fn(run.ctx, run.spec, run.world.cluster_name)


def _association_gone(run: Run) -> None:
    assert _associations(run) == []


Step = tuple[str, Callable[[Run], None]]
#: Each resource's life in the order the flows live it; checks (no writes) are steps too.
FAMILIES: dict[str, list[Step]] = {
    "dns": [("zone", _zone), ("delegation", _delegation), ("record", _record),
            ("converged", _dns_converged), ("record-delete", _record_delete),
            ("delegation-delete", _delegation_delete), ("zone-delete", _zone_delete),
            ("gone", _dns_gone)],
    "certificate": [("request", _certificate), ("validation", _validation),
                    ("tags", _certificate_tags), ("converged", _certificate_converged),
                    ("delete", _certificate_delete), ("validation-delete", _validation_delete),
                    ("gone", _certificate_gone)],
    "subnet-tags": [("tag", _tag), ("converged", _tags_converged), ("untag", _untag),
                    ("gone", _tags_gone)],
    "iam": [("provider", _provider), ("policy", _policy),
            ("policy-version", lambda run: _policy(run, DOC_B)), ("role", _role),
            ("tags", _iam_tags), ("trust", _trust),
            ("default-version", _default_version), ("converged", _iam_converged),
            ("inline-policy", _inline_policy), ("release", _iam_release),
            ("role-delete", _role_delete), ("policy-delete", _policy_delete),
            ("provider-delete", _provider_delete), ("gone", _iam_gone)],
    "controller-leftovers": [("leftovers", _leftovers), ("delete", _leftovers_delete),
                             ("gone", _leftovers_gone)],
    "pod-identity": [("associate", _associate),
                     ("tags", lambda run: _associate(run, _other_stack(run.spec))),
                     ("role", lambda run: _associate(run, _other_stack(run.spec), OTHER_ROLE)),
                     ("converged", _association_converged), ("release", _association_release),
                     ("disassociate", _disassociate),
                     ("gone", _association_gone)],
}  # fmt: skip

#: (family, step, service, operation): the answer of that operation's first request at that step
#: is lost. Every mutating operation the tasks make (benchmarks/api_calls.py lists a run's).
CASES = [
    ("dns", "zone", "route53", "CreateHostedZone"),
    ("dns", "zone", "route53", "ChangeTagsForResource"),
    ("dns", "delegation", "route53", "ChangeResourceRecordSets"),
    ("dns", "record", "route53", "ChangeResourceRecordSets"),
    ("dns", "record-delete", "route53", "ChangeResourceRecordSets"),
    ("dns", "delegation-delete", "route53", "ChangeResourceRecordSets"),
    ("dns", "zone-delete", "route53", "DeleteHostedZone"),
    ("certificate", "request", "acm", "RequestCertificate"),
    ("certificate", "validation", "route53", "ChangeResourceRecordSets"),
    ("certificate", "tags", "acm", "AddTagsToCertificate"),
    ("certificate", "delete", "acm", "DeleteCertificate"),
    ("certificate", "validation-delete", "route53", "ChangeResourceRecordSets"),
    ("subnet-tags", "tag", "ec2", "CreateTags"),
    ("subnet-tags", "untag", "ec2", "DeleteTags"),
    ("iam", "provider", "iam", "CreateOpenIDConnectProvider"),
    ("iam", "policy", "iam", "CreatePolicy"),
    ("iam", "policy-version", "iam", "CreatePolicyVersion"),
    ("iam", "role", "iam", "CreateRole"),
    ("iam", "role", "iam", "AttachRolePolicy"),
    ("iam", "tags", "iam", "TagOpenIDConnectProvider"),
    ("iam", "tags", "iam", "TagPolicy"),
    ("iam", "tags", "iam", "TagRole"),
    ("iam", "trust", "iam", "UpdateAssumeRolePolicy"),
    ("iam", "default-version", "iam", "SetDefaultPolicyVersion"),
    ("iam", "release", "iam", "UntagRole"),
    ("iam", "release", "iam", "UntagPolicy"),
    ("iam", "release", "iam", "UntagOpenIDConnectProvider"),
    ("iam", "role-delete", "iam", "DetachRolePolicy"),
    ("iam", "role-delete", "iam", "DeleteRolePolicy"),
    ("iam", "role-delete", "iam", "DeleteRole"),
    ("iam", "policy-delete", "iam", "DeletePolicyVersion"),
    ("iam", "policy-delete", "iam", "DeletePolicy"),
    ("iam", "provider-delete", "iam", "DeleteOpenIDConnectProvider"),
    ("controller-leftovers", "delete", "elasticloadbalancing", "ModifyLoadBalancerAttributes"),
    ("controller-leftovers", "delete", "elasticloadbalancing", "DeleteListener"),
    ("controller-leftovers", "delete", "elasticloadbalancing", "DeleteLoadBalancer"),
    ("controller-leftovers", "delete", "elasticloadbalancing", "DeleteTargetGroup"),
    ("controller-leftovers", "delete", "ec2", "RevokeSecurityGroupIngress"),
    ("controller-leftovers", "delete", "ec2", "DeleteSecurityGroup"),
    ("pod-identity", "associate", "eks", "CreatePodIdentityAssociation"),
    ("pod-identity", "tags", "eks", "TagResource"),
    ("pod-identity", "role", "eks", "UpdatePodIdentityAssociation"),
    ("pod-identity", "release", "eks", "UntagResource"),
    ("pod-identity", "disassociate", "eks", "DeletePodIdentityAssociation"),
]


#: Writes moto cannot serve: AddClientIDToOpenIDConnectProvider (only for a provider of ours
#: that lost its audience) is idempotent in IAM, a repeated add is no error.
NOT_IN_MOTO = {"AddClientIDToOpenIDConnectProvider"}


@pytest.fixture
def run(ctx, spec, world, boto, mutations, issued_certificate) -> Run:
    return Run(ctx, spec, world, boto, mutations, issued_certificate)


def _live(run: Run, family: str, *, arm: Callable[[str], None]) -> None:
    for label, step in FAMILIES[family]:
        arm(label)
        step(run)


@pytest.mark.parametrize(
    ("family", "step", "service", "operation"),
    CASES,
    ids=[f"{operation}@{family}:{step}" for family, step, _, operation in CASES],
)
def test_a_lost_answer_is_absorbed(
    run: Run, network: FaultPlan, family: str, step: str, service: str, operation: str
) -> None:
    _live(run, family, arm=lambda label: network.lose_answer(operation) if label == step else None)
    assert network.lost == [f"{service}:{operation}"]  # applied, its answer lost, exactly once


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_write_of_a_life_losing_its_first_answer_is_absorbed(
    run: Run, network: FaultPlan, family: str
) -> None:
    first = FAMILIES[family][0][0]
    _live(run, family, arm=lambda label: network.lose_answer("*") if label == first else None)
    writes = {operation for fam, _, _, operation in CASES if fam == family}
    assert {lost.split(":", 1)[1] for lost in network.lost} == writes


def test_every_mutating_operation_of_the_tasks_has_its_case() -> None:
    """Catches a new write in tasks/aws that has no lost-answer case here."""
    import re
    from pathlib import Path

    import botocore.session

    session = botocore.session.get_session()
    known: dict[str, str] = {}  # botocore's snake-case method name -> operation name
    for service in ("acm", "ec2", "eks", "elbv2", "iam", "route53"):
        model = session.get_service_model(service)
        for name in model.operation_names:
            known[botocore.xform_name(name)] = name
    tasks = Path(__file__).parents[3] / "tasks" / "aws"
    called = {
        known[method]
        for module in tasks.glob("*.py")
        for method in re.findall(r"\b\w+\.([a-z_]+)\(", module.read_text())
        if method in known and not known[method].startswith(READS)
    }
    assert called - {operation for *_, operation in CASES} == NOT_IN_MOTO
    assert len(called) >= 20  # the search itself works
