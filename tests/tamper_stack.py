"""Out-of-band changes to a set-up stack, one fact each, across Route53, ACM, IAM, EC2 and
Kubernetes: what the plan invariants are tested over."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core import naming, sharing
from core.desired import policy_name, role_name
from core.state import Kind
from tests.tamper import (
    break_health_check,
    delete_dashboard_record,
    delete_http_listener,
    flip_alb_attribute,
    keep_first_certificate,
    remove_alb_tag,
    weaken_ssl_policy,
)

#: The extra tag the invariant stacks carry, removed by the tag tamperings.
TEAM = "team"
Tamper = Callable[[Any, Any], None]


def _zone(world: Any, name: str) -> dict[str, Any]:
    zones = world.aws.client("route53").list_hosted_zones()["HostedZones"]
    return next(z for z in zones if z["Name"] == f"{name}.")


def _record(world: Any, zone_id: str, name: str, rtype: str) -> dict[str, Any]:
    sets = world.aws.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return next(
        r for r in sets["ResourceRecordSets"] if r["Name"] == f"{name}." and r["Type"] == rtype
    )


def _upsert(world: Any, zone_id: str, record: dict[str, Any]) -> None:
    world.aws.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )


def untag_zone(world: Any, spec: Any) -> None:
    zone_id = _zone(world, spec.subdomain)["Id"].split("/")[-1]
    world.aws.client("route53").change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone_id, RemoveTagKeys=[TEAM]
    )


def change_delegation(world: Any, spec: Any) -> None:
    zone_id = _zone(world, spec.root)["Id"]
    record = _record(world, zone_id, spec.subdomain, "NS")
    _upsert(world, zone_id, {**record, "ResourceRecords": record["ResourceRecords"][:1]})


def untag_certificate(world: Any, spec: Any) -> None:
    acm = world.aws.client("acm")
    for summary in acm.list_certificates()["CertificateSummaryList"]:
        if summary["DomainName"] == naming.wildcard(spec.subdomain):
            acm.remove_tags_from_certificate(
                CertificateArn=summary["CertificateArn"], Tags=[{"Key": TEAM}]
            )


def change_validation_record(world: Any, spec: Any) -> None:
    zone_id = _zone(world, spec.subdomain)["Id"]
    sets = world.aws.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    record = next(
        r for r in sets["ResourceRecordSets"] if r["Type"] == "CNAME" and r["Name"].startswith("_")
    )
    _upsert(
        world, zone_id, {**record, "ResourceRecords": [{"Value": "_other.acm-validations.aws."}]}
    )


def untag_subnet(world: Any, spec: Any) -> None:
    subnet = world.seeded.public_subnet_ids[0]
    world.aws.client("ec2").delete_tags(
        Resources=[subnet], Tags=[{"Key": "kubernetes.io/role/elb"}]
    )


def untag_oidc_provider(world: Any, spec: Any) -> None:
    """Shared by the cluster's stacks, the provider carries their user marks: drop this one's."""
    iam = world.aws.client("iam")
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        iam.untag_open_id_connect_provider(
            OpenIDConnectProviderArn=provider["Arn"], TagKeys=[sharing.user_key(spec.name)]
        )


def _policy_arn(world: Any, spec: Any) -> str:
    policies = world.aws.client("iam").list_policies(Scope="Local")["Policies"]
    return str(next(p["Arn"] for p in policies if p["PolicyName"] == policy_name(spec)))


def change_policy(world: Any, spec: Any) -> None:
    document = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}  # fmt: skip
    world.aws.client("iam").create_policy_version(
        PolicyArn=_policy_arn(world, spec), PolicyDocument=json.dumps(document), SetAsDefault=True
    )


def detach_policy(world: Any, spec: Any) -> None:
    world.aws.client("iam").detach_role_policy(
        RoleName=role_name(spec), PolicyArn=_policy_arn(world, spec)
    )


def widen_trust(world: Any, spec: Any) -> None:
    iam, name = world.aws.client("iam"), role_name(spec)
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    for statement in trust["Statement"]:
        statement.pop("Condition", None)  # any service account of the cluster may assume it
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))


def untag_role(world: Any, spec: Any) -> None:
    world.aws.client("iam").untag_role(
        RoleName=role_name(spec), TagKeys=[sharing.user_key(spec.name)]
    )


def change_ingress(world: Any, spec: Any) -> None:
    keep_first_certificate(world)


def delete_record(world: Any, spec: Any) -> None:
    delete_dashboard_record(world, spec.subdomain)


#: Each tampering and the kind of the one item it changes.
TAMPERINGS: dict[str, tuple[Tamper, Kind]] = {
    "zone tag removed": (untag_zone, Kind.HOSTED_ZONE),
    "NS delegation changed": (change_delegation, Kind.DELEGATION),
    "certificate tag removed": (untag_certificate, Kind.CERTIFICATE),
    "validation record changed": (change_validation_record, Kind.VALIDATION_RECORD),
    "subnet tag removed": (untag_subnet, Kind.SUBNET_TAG),
    "OIDC provider user mark removed": (untag_oidc_provider, Kind.OIDC_PROVIDER),
    "policy document changed": (change_policy, Kind.IAM_POLICY),
    "role policy detached": (detach_policy, Kind.IAM_ROLE),
    "role trust widened": (widen_trust, Kind.IAM_ROLE),
    "role user mark removed": (untag_role, Kind.IAM_ROLE),
    "Ingress annotation changed": (change_ingress, Kind.INGRESS),
    "dashboard record deleted": (delete_record, Kind.DNS_RECORD),
    # The ALB: the controller's, so apply makes it reconcile instead of editing it.
    "HTTP:80 redirect listener deleted": (
        lambda world, spec: _ignore(delete_http_listener(world, spec.name)),
        Kind.LOAD_BALANCER,
    ),
    "ssl-policy weakened": (
        lambda world, spec: _ignore(weaken_ssl_policy(world, spec.name)),
        Kind.LOAD_BALANCER,
    ),
    "health check broken": (
        lambda world, spec: _ignore(break_health_check(world, spec.name)),
        Kind.LOAD_BALANCER,
    ),
    "ALB attribute flipped": (
        lambda world, spec: _ignore(flip_alb_attribute(world, spec.name)),
        Kind.LOAD_BALANCER,
    ),
    "ALB tag removed": (
        lambda world, spec: _ignore(remove_alb_tag(world, spec.name, key=TEAM)),
        Kind.LOAD_BALANCER,
    ),
}


def _ignore(_: object) -> None:
    return None


#: What the world may carry a tampering on to, by the time the plan looks: the controller
#: rebuilds the ALB from a changed Ingress (its SNI certificate goes), soon but not at once.
CARRIED_ON: dict[str, set[Kind]] = {"Ingress annotation changed": {Kind.LOAD_BALANCER}}

#: Which kinds an AWS mutating operation may serve (ChangeResourceRecordSets serves three).
OPERATION_KINDS: dict[tuple[str, str], frozenset[Kind]] = {
    ("route53", "CreateHostedZone"): frozenset({Kind.HOSTED_ZONE}),
    ("route53", "ChangeTagsForResource"): frozenset({Kind.HOSTED_ZONE}),
    ("route53", "ChangeResourceRecordSets"): frozenset(
        {Kind.DELEGATION, Kind.VALIDATION_RECORD, Kind.DNS_RECORD}
    ),
    ("acm", "RequestCertificate"): frozenset({Kind.CERTIFICATE}),
    ("acm", "AddTagsToCertificate"): frozenset({Kind.CERTIFICATE}),
    ("ec2", "CreateTags"): frozenset({Kind.SUBNET_TAG}),
    ("iam", "CreateOpenIDConnectProvider"): frozenset({Kind.OIDC_PROVIDER}),
    ("iam", "TagOpenIDConnectProvider"): frozenset({Kind.OIDC_PROVIDER}),
    ("iam", "AddClientIDToOpenIDConnectProvider"): frozenset({Kind.OIDC_PROVIDER}),
    ("iam", "CreatePolicy"): frozenset({Kind.IAM_POLICY}),
    ("iam", "CreatePolicyVersion"): frozenset({Kind.IAM_POLICY}),
    ("iam", "DeletePolicyVersion"): frozenset({Kind.IAM_POLICY}),
    ("iam", "SetDefaultPolicyVersion"): frozenset({Kind.IAM_POLICY}),
    ("iam", "TagPolicy"): frozenset({Kind.IAM_POLICY}),
    ("iam", "CreateRole"): frozenset({Kind.IAM_ROLE}),
    ("iam", "AttachRolePolicy"): frozenset({Kind.IAM_ROLE}),
    ("iam", "UpdateAssumeRolePolicy"): frozenset({Kind.IAM_ROLE}),
    ("iam", "TagRole"): frozenset({Kind.IAM_ROLE}),
}
