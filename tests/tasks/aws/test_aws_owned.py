"""Cleanup's look-ups by ownership marks: subnet tag markers, certificates, IAM, record sets."""

from __future__ import annotations

from typing import Any

from core.resources import SubnetTagChange, ValidationZones
from tasks.aws import ec2, eks, iam, owned, route53_records
from tasks.aws.clients import api_calls

MARKER = "kubeflow-alb/added-tags/platform-example-com"


def test_setup_marks_the_tags_it_added_so_they_are_found_without_the_block(
    ctx, world, boto, mutations
):
    kept = world.public_subnets[0]
    boto("ec2").create_tags(
        Resources=[kept], Tags=[{"Key": "kubernetes.io/role/elb", "Value": "1"}]
    )
    cluster = eks.observe_cluster.fn(ctx, world.cluster_name)
    added = ec2.ensure_subnet_tags.fn(ctx, cluster, stack="platform-example-com")

    marks = {c.subnet_id: c.value for c in added if c.key == MARKER}
    assert marks[kept] == "kubernetes.io/cluster/kubeflow"
    assert marks[world.private_subnets[0]] == (
        "kubernetes.io/cluster/kubeflow,kubernetes.io/role/internal-elb"
    )
    assert (
        mutations(lambda: ec2.ensure_subnet_tags.fn(ctx, cluster, stack="platform-example-com"))
        == []
    )

    found = ec2.observe_added_subnet_tags.fn(ctx, "platform-example-com")
    assert set(found) == set(added)
    assert [c.key == MARKER for c in found] == sorted(
        c.key == MARKER for c in found
    )  # markers last
    assert ec2.observe_added_subnet_tags.fn(ctx, "another-stack") == ()

    # A recorded tag someone changed since is not ours any more; one still there is.
    boto("ec2").create_tags(
        Resources=[kept], Tags=[{"Key": "kubernetes.io/cluster/kubeflow", "Value": "owned"}]
    )
    recorded = SubnetTagChange(subnet_id=world.private_subnets[1], key="extra", value="1")
    boto("ec2").create_tags(Resources=[recorded.subnet_id], Tags=[{"Key": "extra", "Value": "1"}])
    found = ec2.observe_added_subnet_tags.fn(ctx, "platform-example-com", [recorded])
    assert recorded in found
    assert (kept, "kubernetes.io/cluster/kubeflow") not in {(c.subnet_id, c.key) for c in found}

    assert ec2.delete_subnet_tags.fn(ctx, found)
    assert ec2.observe_added_subnet_tags.fn(ctx, "platform-example-com") == ()
    tags = boto("ec2").describe_subnets(SubnetIds=[kept])["Subnets"][0]["Tags"]
    assert {t["Key"]: t["Value"] for t in tags if t["Key"] != "Name"} == {
        "kubernetes.io/role/elb": "1",
        "kubernetes.io/cluster/kubeflow": "owned",
    }


def test_certificates_in_the_root_domain_are_found_and_ours_are_marked(ctx, spec, world, boto):
    acm = boto("acm")
    ours = acm.request_certificate(
        DomainName="*.platform.example.com",
        ValidationMethod="DNS",
        Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()],
    )["CertificateArn"]
    theirs = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS")
    acm.request_certificate(DomainName="example.org", ValidationMethod="DNS")  # elsewhere: skipped
    zones = ValidationZones(subdomain=spec.subdomain, root=spec.root, root_zone_id="ZROOT")
    found = {c.arn: c for c in owned.find_certificates.fn(ctx, spec.name, zones=zones)}
    assert set(found) == {ours, theirs["CertificateArn"]}
    assert found[ours].owned
    assert not found[theirs["CertificateArn"]].owned
    (record,) = found[theirs["CertificateArn"]].validation_records
    assert record.zone_id == "ZROOT"


def test_oidc_providers_are_found_and_deleted_by_their_tags(ctx, spec, world):
    cluster = eks.observe_cluster.fn(ctx, world.cluster_name)
    assert owned.find_oidc_providers.fn(ctx, spec.name) == ()
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    assert owned.find_oidc_providers.fn(ctx, spec.name) == (provider,)
    assert owned.find_oidc_providers.fn(ctx, "another-stack") == ()
    assert iam.observe_role.fn(ctx, spec, provider) is None

    assert owned.delete_owned_oidc_provider.fn(ctx, provider.arn, stack=spec.name)
    assert not owned.delete_owned_oidc_provider.fn(ctx, provider.arn, stack=spec.name)
    assert owned.find_oidc_providers.fn(ctx, spec.name) == ()


def test_record_sets_of_a_gone_zone_are_none(ctx, world, boto):
    keys = [("www.example.com", "A"), ("nothing.example.com", "A")]
    (www,) = route53_records.observe_record_sets.fn(ctx, world.root_zone_id, keys)
    assert www.values == ("192.0.2.10",)
    assert route53_records.observe_record_sets.fn(ctx, "ZNOSUCHZONE0000", keys) == ()


def test_record_sets_of_a_name_are_read_in_one_listing_whatever_lies_around_them(
    ctx, world, boto, monkeypatch
):
    """Several types of one name cost one ListResourceRecordSets (Route53 admits 5 requests a
    second per account); record sets of neighbouring names are told apart, and a name with
    more record sets than a page holds (weighted) is read type by type."""
    monkeypatch.setattr(route53_records, "_NAME_PAGE", 10)
    r53 = boto("route53")

    def upsert(name: str, type_: str, value: str, **extra: Any) -> dict[str, Any]:
        record = {"Name": name, "Type": type_, "TTL": 60, "ResourceRecords": [{"Value": value}]}
        return {"Action": "UPSERT", "ResourceRecordSet": {**record, **extra}}

    changes = [
        upsert("kubeflow.platform.example.com", "A", "192.0.2.1"),
        upsert("kubeflow.platform.example.com", "AAAA", "2001:db8::1"),
        upsert("kubeflow.platform.example.com", "TXT", '"not asked for"'),
        upsert("kubeflow-b.platform.example.com", "CNAME", "elsewhere.example.net"),
        upsert("a.kubeflow.platform.example.com", "A", "192.0.2.2"),
        *(upsert("*.platform.example.com", "A", f"192.0.2.{100 + n}", SetIdentifier=f"w{n}",
                 Weight=n) for n in range(12)),  # more than one page of the listing
    ]  # fmt: skip
    r53.change_resource_record_sets(
        HostedZoneId=world.root_zone_id, ChangeBatch={"Changes": changes}
    )
    keys = [(name, type_) for name in ("kubeflow.platform.example.com", "*.platform.example.com",
            "gone.platform.example.com") for type_ in ("A", "AAAA", "CNAME")]  # fmt: skip
    before = api_calls()
    found = route53_records.observe_record_sets.fn(ctx, world.root_zone_id, keys)
    listings = api_calls().since(before).reads

    assert sorted((r.name, r.type, r.values) for r in found if r.name.startswith("kubeflow")) == [
        ("kubeflow.platform.example.com", "A", ("192.0.2.1",)),
        ("kubeflow.platform.example.com", "AAAA", ("2001:db8::1",)),
    ]
    (weighted,) = [r for r in found if r.name == "*.platform.example.com"]
    assert weighted.type == "A"
    assert weighted.values[0].startswith("192.0.2.1")
    assert {r.name for r in found} == {"kubeflow.platform.example.com", "*.platform.example.com"}
    # One listing per name; the name with 12 record sets then read type by type (3): 6, not 9.
    assert listings == 6


def test_the_controllers_backend_group_goes_only_once_no_load_balancer_uses_it(ctx, world, boto):
    ec2, elb = boto("ec2"), boto("elbv2")
    tags = [{"Key": "elbv2.k8s.aws/cluster", "Value": "kubeflow"},
            {"Key": "elbv2.k8s.aws/resource", "Value": "backend-sg"}]  # fmt: skip
    group = ec2.create_security_group(
        GroupName="k8s-traffic-kubeflow-0123456789", Description="shared backend", VpcId=world.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
    )["GroupId"]  # fmt: skip
    lb = elb.create_load_balancer(Name="k8s-istio", Subnets=world.public_subnets,
                                  SecurityGroups=[group])["LoadBalancers"][0]  # fmt: skip
    assert owned.find_unused_backend_security_group.fn(ctx, "kubeflow") is None
    assert not owned.delete_unused_backend_security_group.fn(ctx, "kubeflow")

    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert owned.find_unused_backend_security_group.fn(ctx, "another-cluster") is None
    assert owned.find_unused_backend_security_group.fn(ctx, "kubeflow") == group
    assert owned.delete_unused_backend_security_group.fn(ctx, "kubeflow")
    groups = ec2.describe_security_groups()["SecurityGroups"]
    assert group not in {g["GroupId"] for g in groups}
