"""Other stacks' AWS footprint in a sandbox account, seeded in seconds instead of one setup
each: what a set-up stack leaves that another stack's reads could meet (its subdomain zone,
tagged and delegated from the root zone; its `*.<subdomain>` and `*.<root>` certificates with
its tags; an ALB with its tags). Not a whole stack: no IAM, Ingress or block. Used by the
constant-cost test and `benchmarks/api_calls.py`."""

from __future__ import annotations

from typing import Any

from core import naming
from core.dnsnames import normalise


def seed_footprints(
    world: Any, *, count: int, root: str, first: int = 0, tags: dict[str, str] | None = None
) -> list[str]:
    """Seed `count` stacks' footprints (stacks `footprint-<first>` ...) in the world's own
    account, under the root zone `root`; returns their names."""
    aws, seeded = world.aws, world.seeded
    route53, acm, elbv2 = aws.client("route53"), aws.client("acm"), aws.client("elbv2")
    names = []
    for index in range(first, first + count):
        stack = f"footprint-{index}"
        sub = f"{stack}.{normalise(root)}"
        marks = naming.ownership_tags(stack, tags)
        tag_list = [{"Key": key, "Value": value} for key, value in marks.items()]
        zone = route53.create_hosted_zone(
            Name=sub, CallerReference=naming.zone_reference_prefix(stack, sub) + "seeded"
        )
        zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
        route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id,
                                         AddTags=tag_list)  # fmt: skip
        servers = zone["DelegationSet"]["NameServers"]
        route53.change_resource_record_sets(
            HostedZoneId=world.root_zone_id,
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": sub, "Type": "NS", "TTL": 172800,
                "ResourceRecords": [{"Value": server} for server in servers]}}]},
        )  # fmt: skip
        for domain in (f"*.{sub}", f"*.{normalise(root)}"):
            acm.request_certificate(DomainName=domain, SubjectAlternativeNames=[domain],
                                    ValidationMethod="DNS", Tags=tag_list)  # fmt: skip
        elbv2.create_load_balancer(
            Name=f"k8s-footprint-{index}", Subnets=list(seeded.public_subnet_ids),
            Scheme="internet-facing", Type="application",
            Tags=[{"Key": naming.STACK_TAG, "Value": stack}],
        )  # fmt: skip
        names.append(stack)
    return names
